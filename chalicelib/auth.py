"""Who is calling, from the Cognito claims API Gateway attached to the request.

In AWS the user-pool authorizer has verified the token before the handler runs;
`chalice local` and `chalice.test.Client` decode the same (unsigned, locally)
token into the same claims. A request that arrives without claims is refused
here in every stage, so local behaviour matches production.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ROLES = ("admin", "supervisor", "agent")
"""Every role, most powerful first."""
EVERYONE = frozenset(ROLES)
STAFF = frozenset({"admin", "supervisor"})
"""Admins and supervisors: they see every conversation."""
ADMIN = frozenset({"admin"})


@dataclass(frozen=True)
class Caller:
    username: str
    roles: frozenset[str]

    @property
    def role(self) -> str | None:
        """The most powerful role the caller holds; decides what they may do."""
        return next((role for role in ROLES if role in self.roles), None)

    def may(self, allowed: Iterable[str]) -> bool:
        return self.role is not None and self.role in set(allowed)


def caller_from_context(context: Mapping[str, Any] | None) -> Caller | None:
    claims = ((context or {}).get("authorizer") or {}).get("claims") or {}
    username = claims.get("cognito:username")
    if not username:
        return None
    return Caller(username=str(username), roles=frozenset(parse_groups(claims.get("cognito:groups"))))


def parse_groups(raw: Any) -> list[str]:
    """Groups arrive as a list, or flattened to "a,b" (REST API) or "[a b]" (HTTP API)."""
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return [str(group) for group in raw]
    text = str(raw).strip().strip("[]")
    return [group for group in text.replace(",", " ").split() if group]
