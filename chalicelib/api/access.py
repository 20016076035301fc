"""Which roles may call which route, and send which fields: the declarative tables.

Every route the app registers must appear here (a test walks them all); a
route that is missing is refused to everyone. `PUBLIC` routes carry no user
token: carriers call them and prove themselves with a signature instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from chalicelib.auth import ADMIN, EVERYONE, ROLES, STAFF, Caller
from chalicelib.errors import Forbidden, Unauthorized

PUBLIC = frozenset({"public"})
"""Marks a route that carries no user token; not a role anyone holds."""

ROUTE_ROLES: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/contacts"): EVERYONE,
    ("POST", "/contacts"): EVERYONE,
    ("GET", "/contacts/{number}"): EVERYONE,
    ("PATCH", "/contacts/{number}"): EVERYONE,
    ("DELETE", "/contacts/{number}"): STAFF,
    ("GET", "/fields"): EVERYONE,
    ("POST", "/fields"): ADMIN,
    ("DELETE", "/fields/{name}"): ADMIN,
    ("GET", "/business-numbers"): EVERYONE,
    ("POST", "/business-numbers"): ADMIN,
    ("PATCH", "/business-numbers/{number}"): ADMIN,
    ("GET", "/conversations"): EVERYONE,
    ("POST", "/conversations"): EVERYONE,
    ("POST", "/conversations/close"): STAFF,
    ("GET", "/conversations/{conversation_id}"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/messages"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/notes"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/claim"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/transfer"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/close"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/optout"): EVERYONE,
    ("POST", "/conversations/{conversation_id}/optout/dismiss"): EVERYONE,
    ("GET", "/contacts/{number}/conversations"): EVERYONE,
    ("GET", "/optouts"): EVERYONE,
    ("POST", "/optouts"): STAFF,
    ("DELETE", "/optouts/{number}"): ADMIN,
    ("GET", "/contacts/{number}/optout-history"): EVERYONE,
    ("POST", "/messages/preview"): EVERYONE,
    ("POST", "/media"): EVERYONE,
    ("GET", "/dev/outbox"): EVERYONE,
    ("GET", "/agents"): EVERYONE,
    ("POST", "/agents"): ADMIN,
    ("PATCH", "/agents/{username}"): ADMIN,
    ("GET", "/agent-groups"): EVERYONE,
    ("POST", "/agent-groups"): STAFF,
    ("GET", "/agent-groups/{group_id}"): EVERYONE,
    ("PATCH", "/agent-groups/{group_id}"): STAFF,
    ("DELETE", "/agent-groups/{group_id}"): STAFF,
    ("POST", "/agent-groups/{group_id}/members"): STAFF,
    ("DELETE", "/agent-groups/{group_id}/members/{username}"): STAFF,
    ("GET", "/quick-notes"): EVERYONE,
    ("POST", "/quick-notes"): STAFF,
    ("PATCH", "/quick-notes/{text_id}"): STAFF,
    ("DELETE", "/quick-notes/{text_id}"): STAFF,
    ("GET", "/quick-replies"): EVERYONE,
    ("POST", "/quick-replies"): STAFF,
    ("PATCH", "/quick-replies/{text_id}"): STAFF,
    ("DELETE", "/quick-replies/{text_id}"): STAFF,
    ("GET", "/campaigns"): EVERYONE,
    ("POST", "/campaigns"): ADMIN,
    ("GET", "/campaigns/{campaign_id}"): EVERYONE,
    ("PATCH", "/campaigns/{campaign_id}"): ADMIN,
    ("GET", "/campaigns/{campaign_id}/subscribers"): STAFF,
    ("POST", "/campaigns/{campaign_id}/subscribers"): ADMIN,
    ("DELETE", "/campaigns/{campaign_id}/subscribers/{number}"): ADMIN,
    ("GET", "/groups"): EVERYONE,
    ("POST", "/groups"): STAFF,
    ("GET", "/groups/{group_id}"): EVERYONE,
    ("PATCH", "/groups/{group_id}"): STAFF,
    ("DELETE", "/groups/{group_id}"): STAFF,
    ("GET", "/groups/{group_id}/members"): EVERYONE,
    ("POST", "/groups/{group_id}/members"): STAFF,
    ("POST", "/groups/{group_id}/members/remove"): STAFF,
    ("POST", "/groups/{group_id}/merge"): STAFF,
    ("POST", "/groups/{group_id}/refresh"): STAFF,
    ("POST", "/imports"): STAFF,
    ("GET", "/imports/{job_id}"): STAFF,
    ("POST", "/exports"): STAFF,
    ("GET", "/exports/{job_id}"): STAFF,
    ("GET", "/broadcasts"): STAFF,
    ("POST", "/broadcasts"): STAFF,
    ("GET", "/broadcasts/{broadcast_id}"): STAFF,
    ("POST", "/broadcasts/{broadcast_id}/cancel"): STAFF,
    ("POST", "/webhooks/twilio"): PUBLIC,
    ("POST", "/webhooks/twilio/status"): PUBLIC,
    ("POST", "/webhooks/inbound"): PUBLIC,
}

FIELD_ROLES: dict[tuple[str, str], dict[str, frozenset[str]]] = {
    ("POST", "/contacts"): {"blocked": STAFF},
    ("PATCH", "/contacts/{number}"): {"blocked": STAFF},
}
"""Body fields that only some of a route's roles may send, whatever their value.

Blocking a number stops every message to it, which is a supervisor's call;
agents keep editing the rest of a contact. Refusing the field itself, not
only a change of it, keeps the rule checkable before anything is read.
"""


def authorize(method: str, resource_path: str, caller: Caller | None) -> None:
    """Raise unless `caller` may call the route; public routes need no caller."""
    allowed = ROUTE_ROLES.get((method, resource_path))
    if allowed == PUBLIC:
        return
    if caller is None:
        raise Unauthorized("a valid user token is required (Authorization: <Cognito ID token>)")
    if allowed is None or not caller.may(allowed):
        raise Forbidden(f"role {caller.role or 'none'} may not {method} {resource_path}")


def authorize_fields(method: str, resource_path: str, caller: Caller | None, fields: Iterable[str]) -> None:
    """Raise unless `caller` may send each of `fields` in the route's body (see FIELD_ROLES)."""
    role = caller.role if caller is not None else None
    sent = set(fields)
    for field, allowed in FIELD_ROLES.get((method, resource_path), {}).items():
        if field in sent and role not in allowed:
            may = " and ".join(f"{name}s" for name in ROLES if name in allowed)
            raise Forbidden(f"role {role or 'none'} may not set {field}; only {may} may", field=field)
