"""Agents (the people who answer texts) and the groups they work in.

A team is small, so each kind lives in one partition (`account`): listing is a
single Query. Membership is stored on both sides, kept equal by transactions:
`AgentGroup.members` lists the group's agents, and `Agent.groups` lets the
visibility rules learn a caller's groups with one GetItem.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from chalicelib.models.business_numbers import ACCOUNT


class Agent(Model):
    """A user's record; the token's `cognito:groups` still decides what the user may call."""

    Meta = table_meta("AGENTS_TABLE")

    account = UnicodeAttribute(hash_key=True, default=ACCOUNT)
    username = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    role = UnicodeAttribute()
    active = BooleanAttribute(default=True)
    groups = UnicodeSetAttribute(null=True)
    """Ids of the groups the agent belongs to; DynamoDB stores an empty set as no attribute."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()


class AgentGroup(Model):
    Meta = table_meta("AGENT_GROUPS_TABLE")

    account = UnicodeAttribute(hash_key=True, default=ACCOUNT)
    group_id = UnicodeAttribute(range_key=True)
    name = UnicodeAttribute()
    members = UnicodeSetAttribute(null=True)
    version = NumberAttribute(default=0)
    """Bumped by every change, so a rewrite of `members` can insist nothing changed since it read them."""
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
