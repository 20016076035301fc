"""Who owns a conversation: claiming it and transferring it to an agent, a group, or both.

Both are conditional writes on the assignment as it was read, so two agents
claiming at once cannot both win, and a transfer never overwrites a claim it
did not see. The event recording the change is written in the same transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.transactions import TransactWrite

from chalicelib.errors import Conflict, ValidationFailed
from chalicelib.models import Agent, AgentGroup, Conversation
from chalicelib.models.business_numbers import ACCOUNT
from chalicelib.models.conversations import UNASSIGNED, group_principal, queue_of
from chalicelib.models.writes import write_transaction
from chalicelib.services import agents, conversations
from chalicelib.services.visibility import Viewer, can_see, require_may_transfer, require_visible

CLAIM_RACE_SECONDS = 30
"""How long after an agent takes a conversation a rival's claim is told it lost (409) rather than 404."""


class AlreadyClaimed(Conflict):
    code = "already_claimed"


def claim_target(conversation_id: str, viewer: Viewer) -> Conversation:
    """The conversation to claim, as the caller may see it.

    A conversation another agent has just taken is invisible to the caller,
    but a caller who saw it a moment ago (it was unassigned, or in one of
    their groups) and claimed at the same time lost a race: they get 409, not
    a 404 that would suggest it vanished. Anything else invisible stays 404.
    """
    conversation = conversations.find(conversation_id)
    if conversation is not None and not can_see(conversation, viewer) and _just_taken(conversation, viewer):
        raise AlreadyClaimed("another agent claimed the conversation first", field="conversation_id")
    return require_visible(conversation, conversation_id, viewer)


def _just_taken(conversation: Conversation, viewer: Viewer) -> bool:
    visible_queues = {UNASSIGNED, *(group_principal(group) for group in viewer.groups)}
    was_visible = conversation.taken_from in visible_queues
    taken_at = conversation.assigned_at
    recent = taken_at is not None and datetime.now(UTC) - taken_at < timedelta(seconds=CLAIM_RACE_SECONDS)
    return conversation.status == "open" and was_visible and recent


def claim(conversation: Conversation, viewer: Viewer) -> Conversation:
    """Assign to the caller; claiming one's own conversation again changes nothing."""
    if conversation.status != "open":
        raise conversations.closed_error()
    if conversation.assigned_agent == viewer.username:
        return conversation
    if conversation.assigned_agent:
        raise AlreadyClaimed("the conversation is already claimed by another agent", field="conversation_id")
    if _reassign(conversation, viewer.username, conversation.assigned_group, viewer.username, "claimed"):
        return conversations.load(conversation.id)
    current = conversations.load(conversation.id)
    if current.status != "open":
        raise conversations.closed_error()
    raise AlreadyClaimed("another agent claimed the conversation first", field="conversation_id")


def transfer(conversation: Conversation, viewer: Viewer, agent: str | None, group: str | None) -> Conversation:
    """Hand the conversation to exactly the agent and/or group named; a group alone leaves it unclaimed in it."""
    if conversation.status != "open":
        raise conversations.closed_error()
    require_may_transfer(conversation, viewer)
    if agent is None and group is None:
        raise ValidationFailed("name an agent, a group, or both", field="agent")
    if agent is not None and not agents.load_agent(agent).active:
        raise ValidationFailed(f"agent {agent} is deactivated", field="agent")
    if group is not None:
        members = agents.load_group(group).members or set()
        if agent is not None and agent not in members:
            raise ValidationFailed(
                f"agent {agent} is not a member of agent group {group}; add them to the group or pick another agent",
                field="agent",
            )
    if not _reassign(conversation, agent, group, viewer.username, "transferred"):
        current = conversations.load(conversation.id)
        if current.status != "open":
            raise conversations.closed_error()
        raise Conflict(
            "the conversation, the agent group or the agent changed while transferring; read them and retry",
            field="agent",
        )
    return conversations.load(conversation.id)


def _reassign(conversation: Conversation, agent: str | None, group: str | None, actor: str, name: str) -> bool:
    """Move from the assignment read to (agent, group); False when it changed or closed meanwhile."""
    now = datetime.now(UTC)
    actions: list[Any] = [Conversation.queue.set(queue_of(agent, group)), Conversation.revision.add(1)]
    actions.append(Conversation.assigned_agent.set(agent) if agent else Conversation.assigned_agent.remove())
    actions.append(Conversation.assigned_group.set(group) if group else Conversation.assigned_group.remove())
    if agent:
        actions += [
            Conversation.participants.add({agent}),
            Conversation.assigned_at.set(now),
            Conversation.taken_from.set(queue_of(conversation.assigned_agent, conversation.assigned_group)),
        ]
    if group:
        actions.append(Conversation.groups_seen.add({group}))
    condition = (
        (Conversation.status == "open")
        & _unchanged(Conversation.assigned_agent, conversation.assigned_agent)
        & _unchanged(Conversation.assigned_group, conversation.assigned_group)
    )
    details = {"agent": agent, "group": group}
    if name == "transferred":
        details |= {"from_agent": conversation.assigned_agent, "from_group": conversation.assigned_group}
    details = {key: value for key, value in details.items() if value}

    def write(tx: TransactWrite) -> None:
        tx.update(Conversation(conversation.id), actions=actions, condition=condition)
        tx.save(conversations.event(conversation, now, actor, name, **details))
        if group and name == "transferred":
            still = AgentGroup.group_id.exists()
            if agent:
                still &= AgentGroup.members.contains(agent)
            tx.condition_check(AgentGroup, ACCOUNT, group, condition=still)
        if agent and name == "transferred":
            tx.condition_check(Agent, ACCOUNT, agent, condition=Agent.active == True)  # noqa: E712

    return not write_transaction(write)


def _unchanged(attribute: Any, value: str | None) -> Any:
    return attribute == value if value else attribute.does_not_exist()
