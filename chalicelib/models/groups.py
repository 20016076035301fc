"""Contact groups (static lists and saved queries) and their memberships.

Groups are few (tens to hundreds), so they share one partition (`account`)
and listing them is one Query. A group's name is unique regardless of case:
each group owns a name-lock item (`name#<folded name>`) in the same
partition, written in the same transaction as the group, so two requests
racing to create "VIP" and "vip" cannot both win.

Memberships are items of their own, keyed by group and number, so a group of
100,000 contacts pages by Query and a contact's groups are one Query on the
`by_number` index.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.models.base import table_meta
from chalicelib.models.business_numbers import ACCOUNT

GROUP_PREFIX = "cgr"
NAME_LOCK_PREFIX = "name#"
READY = "ready"
DELETING = "deleting"


class ContactGroup(Model):
    Meta = table_meta("CONTACT_GROUPS_TABLE")

    account = UnicodeAttribute(hash_key=True, default=ACCOUNT)
    id = UnicodeAttribute(range_key=True)
    """A group id (`cgr_...`), or `name#<folded name>` for the item that reserves a name."""
    group_id = UnicodeAttribute(null=True)
    """On a name lock: the group holding the name."""
    name = UnicodeAttribute(null=True)
    name_key = UnicodeAttribute(null=True)
    kind = UnicodeAttribute(null=True)
    """static or dynamic."""
    definition = UnicodeAttribute(null=True)
    """A dynamic group's query (in the language of `chalicelib.segments`)."""
    category = UnicodeAttribute(null=True)
    description = UnicodeAttribute(null=True)
    member_count = NumberAttribute(default=0)
    state = UnicodeAttribute(default=READY)
    """ready, or deleting: the group is gone for callers while its memberships are being removed."""
    pending_jobs = NumberAttribute(default=0)
    """Background jobs (materializing, adding by query, merging) not finished yet; the API shows "pending"."""
    generation = NumberAttribute(default=0)
    """Bumped by each materialization of a dynamic group; members stamped with older ones are stale."""
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)
    materialized_at = UTCDateTimeAttribute(null=True)


class MembersByNumber(GlobalSecondaryIndex):
    class Meta:
        index_name = "by_number"
        projection = AllProjection()

    number = UnicodeAttribute(hash_key=True)
    group_id = UnicodeAttribute(range_key=True)


class GroupMember(Model):
    Meta = table_meta("GROUP_MEMBERS_TABLE")

    group_id = UnicodeAttribute(hash_key=True)
    number = UnicodeAttribute(range_key=True)
    added_at = UTCDateTimeAttribute()
    generation = NumberAttribute(default=0)

    by_number = MembersByNumber()
