"""Agents and agent groups: who works the inbox, and in which teams.

Membership is written on both sides in one transaction (the group's `members`
and each agent's `groups`), so `caller_groups` needs one GetItem and the two
sides never disagree. A transaction holds at most 100 items; a rewrite of a
group's members touches the group, its name claim and every agent that joins
or leaves, so groups are capped at `MAX_MEMBERS` agents.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from pynamodb.exceptions import PutError, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, LimitReached, NotFound, ValidationFailed
from chalicelib.ids import new_id
from chalicelib.models import AccountSettings, Agent, AgentGroup, Conversation
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.conversations import group_principal
from chalicelib.models.writes import condition_failed, write_transaction
from chalicelib.timestamps import iso_z

TRANSACTION_ITEMS = 100
MAX_MEMBERS = (TRANSACTION_ITEMS - 2) // 2
"""49: replacing every member of a full group touches 2 x 49 agents, the group and its name claim."""
NAMES_KEY = "agent_group_names"


# --- agents


def caller_groups(username: str) -> frozenset[str]:
    """Ids of the groups `username` works in; empty without an agent record or once deactivated."""
    try:
        agent = Agent.get(ACCOUNT, username, attributes_to_get=["active", "groups"])
    except Agent.DoesNotExist:
        return frozenset()
    return frozenset(agent.groups or ()) if agent.active else frozenset()


def load_agent(username: str) -> Agent:
    try:
        return Agent.get(ACCOUNT, username, consistent_read=True)
    except Agent.DoesNotExist:
        raise NotFound(f"no agent {username}", field="username") from None


def list_agents() -> list[dict[str, Any]]:
    return [agent_view(agent) for agent in Agent.query(ACCOUNT)]


def create_agent(data: Mapping[str, Any]) -> dict[str, Any]:
    now = datetime.now(UTC)
    agent = Agent(ACCOUNT, data["username"], name=data["name"], role=data["role"], created_at=now, updated_at=now)
    try:
        agent.save(condition=Agent.username.does_not_exist())
    except PutError as error:
        if condition_failed(error):
            raise Conflict(f"agent {agent.username} already exists", field="username") from None
        raise
    return agent_view(agent)


def update_agent(username: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Change name, role or active; a deactivated agent keeps their groups, so reactivating restores them."""
    for name, value in changes.items():
        if value is None:
            raise ValidationFailed(f"{name} cannot be null", field=name)
    actions = [getattr(Agent, name).set(value) for name, value in changes.items()]
    actions.append(Agent.updated_at.set(datetime.now(UTC)))
    agent = Agent(ACCOUNT, username)
    try:
        agent.update(actions=actions, condition=Agent.username.exists())
    except UpdateError as error:
        if condition_failed(error):
            raise NotFound(f"no agent {username}", field="username") from None
        raise
    return agent_view(agent)


def agent_view(agent: Agent) -> dict[str, Any]:
    return {
        "username": agent.username,
        "name": agent.name,
        "role": agent.role,
        "active": agent.active,
        "groups": sorted(agent.groups or ()),
        "created_at": iso_z(agent.created_at),
        "updated_at": iso_z(agent.updated_at),
    }


# --- groups


def list_groups() -> list[dict[str, Any]]:
    return [group_view(group) for group in AgentGroup.query(ACCOUNT)]


def get_group(group_id: str) -> dict[str, Any]:
    return group_view(load_group(group_id))


def load_group(group_id: str) -> AgentGroup:
    try:
        return AgentGroup.get(ACCOUNT, group_id, consistent_read=True)
    except AgentGroup.DoesNotExist:
        raise NotFound(f"no agent group {group_id}", field="group_id") from None


def create_group(name: str, members: Iterable[str]) -> dict[str, Any]:
    usernames = _member_set(members)
    now = datetime.now(UTC)
    group = AgentGroup(ACCOUNT, new_id("grp"), name=name, members=usernames or None, created_at=now, updated_at=now)
    _ensure_names_item()
    claim = AccountSettings.group_names[_folded(name)]

    def write(tx: TransactWrite) -> None:
        tx.save(group, condition=AgentGroup.group_id.does_not_exist())
        tx.update(AccountSettings(NAMES_KEY), actions=[claim.set(group.group_id)], condition=claim.does_not_exist())
        _join(tx, sorted(usernames), group.group_id, now)

    failed = write_transaction(write)
    if failed:
        _raise_for(failed, name, name_at=1, joining=sorted(usernames))
    return group_view(group)


def update_group(group_id: str, changes: Mapping[str, Any]) -> dict[str, Any]:
    """Rename and/or replace the members; refused with 409 if the group changed since it was read."""
    for field, value in changes.items():
        if value is None:
            raise ValidationFailed(f"{field} cannot be null", field=field)
    group = load_group(group_id)
    now = datetime.now(UTC)
    old = set(group.members or ())
    new = _member_set(changes["members"]) if "members" in changes else old
    joining, leaving = sorted(new - old), sorted(old - new)
    renamed = "name" in changes and _folded(changes["name"]) != _folded(group.name)
    actions = [AgentGroup.version.add(1), AgentGroup.updated_at.set(now)]
    if "name" in changes:
        actions.append(AgentGroup.name.set(changes["name"]))
    if new != old:
        actions.append(AgentGroup.members.set(new or None))

    def write(tx: TransactWrite) -> None:
        tx.update(group, actions=actions, condition=AgentGroup.version == group.version)
        if renamed:
            claim = AccountSettings.group_names[_folded(changes["name"])]
            tx.update(
                AccountSettings(NAMES_KEY),
                actions=[claim.set(group_id), AccountSettings.group_names[_folded(group.name)].remove()],
                condition=claim.does_not_exist(),
            )
        _join(tx, joining, group_id, now)
        _leave(tx, leaving, group_id, now)

    failed = write_transaction(write)
    if failed:
        if 0 in failed:
            raise Conflict(f"agent group {group_id} changed while being updated; retry", field="group_id")
        _raise_for(failed, changes.get("name", ""), name_at=1 if renamed else None, joining=joining)
    return group_view(load_group(group_id))


def delete_group(group_id: str) -> None:
    """Delete the group, its name claim, and its id from every member's record, all at once.

    Refused while open conversations wait in the group's queue: no agent
    could see them any more once the group is gone.
    """
    group = load_group(group_id)
    waiting = Conversation.queue_by_date.query(group_principal(group_id), limit=1, attributes_to_get=["id"])
    if next(iter(waiting), None) is not None:
        raise Conflict(
            f"open conversations are waiting in agent group {group_id}; transfer or close them first",
            field="group_id",
        )
    now = datetime.now(UTC)

    def write(tx: TransactWrite) -> None:
        tx.delete(group, condition=AgentGroup.version == group.version)
        tx.update(AccountSettings(NAMES_KEY), actions=[AccountSettings.group_names[_folded(group.name)].remove()])
        _leave(tx, sorted(group.members or ()), group_id, now)

    if write_transaction(write):
        raise Conflict(f"agent group {group_id} changed while being deleted; retry", field="group_id")


def add_member(group_id: str, username: str) -> dict[str, Any]:
    """Add one agent; adding a member again changes nothing."""
    group = load_group(group_id)
    if username in (group.members or ()):
        return group_view(group)
    now = datetime.now(UTC)

    def write(tx: TransactWrite) -> None:
        tx.update(
            AgentGroup(ACCOUNT, group_id),
            actions=[AgentGroup.members.add({username}), AgentGroup.version.add(1), AgentGroup.updated_at.set(now)],
            condition=AgentGroup.group_id.exists()
            & (AgentGroup.members.does_not_exist() | (size(AgentGroup.members) < MAX_MEMBERS)),
        )
        _join(tx, [username], group_id, now)

    failed = write_transaction(write)
    if 1 in failed:
        raise _not_an_agent(username)
    if 0 in failed:
        load_group(group_id)
        raise _too_many()
    return group_view(load_group(group_id))


def remove_member(group_id: str, username: str) -> dict[str, Any]:
    now = datetime.now(UTC)

    def write(tx: TransactWrite) -> None:
        tx.update(
            AgentGroup(ACCOUNT, group_id),
            actions=[AgentGroup.members.delete({username}), AgentGroup.version.add(1), AgentGroup.updated_at.set(now)],
            condition=AgentGroup.members.contains(username),
        )
        _leave(tx, [username], group_id, now)

    if write_transaction(write):
        load_group(group_id)
        raise NotFound(f"{username} is not a member of agent group {group_id}", field="username")
    return group_view(load_group(group_id))


def group_view(group: AgentGroup) -> dict[str, Any]:
    return {
        "id": group.group_id,
        "name": group.name,
        "members": sorted(group.members or ()),
        "created_at": iso_z(group.created_at),
        "updated_at": iso_z(group.updated_at),
    }


# --- helpers


def _member_set(members: Iterable[str]) -> set[str]:
    usernames = set(members)
    if len(usernames) > MAX_MEMBERS:
        raise _too_many()
    return usernames


def _too_many() -> LimitReached:
    return LimitReached(f"an agent group has at most {MAX_MEMBERS} members; remove one first", field="members")


def _not_an_agent(username: str) -> ValidationFailed:
    return ValidationFailed(f"{username} is not an active agent; create or reactivate the agent first", field="members")


def _join(tx: TransactWrite, usernames: Iterable[str], group_id: str, now: datetime) -> None:
    """Members must be existing, active agents: the condition refuses anyone else."""
    for username in usernames:
        tx.update(
            Agent(ACCOUNT, username),
            actions=[Agent.groups.add({group_id}), Agent.updated_at.set(now)],
            condition=Agent.username.exists() & (Agent.active == True),  # noqa: E712 (a condition, not a comparison)
        )


def _leave(tx: TransactWrite, usernames: Iterable[str], group_id: str, now: datetime) -> None:
    for username in usernames:
        tx.update(
            Agent(ACCOUNT, username),
            actions=[Agent.groups.delete({group_id}), Agent.updated_at.set(now)],
            condition=Agent.username.exists(),
        )


def _raise_for(failed: list[int], name: str, *, name_at: int | None, joining: list[str]) -> None:
    """Turn the failed positions of a create or update into the error the caller can act on.

    Both write the group first, then the name claim (at `name_at`, if the name
    is claimed), then the joining agents in order.
    """
    if name_at is not None and name_at in failed:
        raise Conflict(f"an agent group named {name!r} already exists", field="name")
    first_agent = 1 if name_at is None else name_at + 1
    agents = [joining[i - first_agent] for i in failed if first_agent <= i < first_agent + len(joining)]
    if agents:
        raise _not_an_agent(agents[0])
    raise Conflict("the agent group could not be written; retry", field="group_id")


def _ensure_names_item() -> None:
    """A transaction cannot create the map and set a key in it at once, so the map is made first (idempotent)."""
    AccountSettings(NAMES_KEY).update(actions=[AccountSettings.group_names.set(AccountSettings.group_names | {})])


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()
