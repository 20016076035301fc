"""Who may see and act on a conversation: the inbox rules as plain functions.

Admins and supervisors see everything. An agent sees an open conversation that
is theirs, or that has no agent and either no group or one of their groups;
once closed, one they took part in or that belonged to one of their groups.
What an agent may not see does not exist for them (404, never 403), so a
conversation's existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.auth import STAFF
from chalicelib.errors import Forbidden, NotFound
from chalicelib.models import Conversation


@dataclass(frozen=True)
class Viewer:
    username: str
    role: str
    groups: frozenset[str]

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF


def can_see(conversation: Conversation, viewer: Viewer) -> bool:
    if viewer.is_staff:
        return True
    if conversation.status != "open":
        return viewer.username in (conversation.participants or ()) or bool(
            viewer.groups & set(conversation.groups_seen or ())
        )
    if conversation.assigned_agent:
        return conversation.assigned_agent == viewer.username
    return conversation.assigned_group is None or conversation.assigned_group in viewer.groups


def require_visible(conversation: Conversation | None, conversation_id: str, viewer: Viewer) -> Conversation:
    if conversation is None or not can_see(conversation, viewer):
        raise NotFound(f"no conversation {conversation_id}", field="conversation_id")
    return conversation


def require_may_transfer(conversation: Conversation, viewer: Viewer) -> None:
    """Agents hand on only what they own; claiming comes first."""
    if not viewer.is_staff and conversation.assigned_agent != viewer.username:
        raise Forbidden(
            "agents may transfer only conversations assigned to them; claim it first", field="conversation_id"
        )
