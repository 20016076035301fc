"""Opaque cursors for list endpoints.

A cursor carries the last sort key returned and a fingerprint of the query it
belongs to, so a cursor replayed against a different search or sort is refused
instead of silently returning the wrong page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chalicelib.errors import ValidationFailed

MAX_KEY_BYTES = 1024
"""DynamoDB's limit for a sort key: a longer "last key" cannot have come from an index."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None

    def body(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


def fingerprint(params: Mapping[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, default=str)
    return hashlib.blake2b(canonical.encode(), digest_size=8).hexdigest()


def encode_cursor(after: str | None, params: Mapping[str, Any]) -> str | None:
    if after is None:
        return None
    raw = json.dumps({"a": after, "f": fingerprint(params)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, params: Mapping[str, Any]) -> str | None:
    if not cursor:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        after, seen = data["a"], data["f"]
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise ValidationFailed("cursor is not one this API issued", field="cursor") from None
    if not isinstance(after, str) or seen != fingerprint(params):
        raise ValidationFailed("cursor belongs to a different query; start again without it", field="cursor")
    if not after or len(after.encode()) > MAX_KEY_BYTES:
        raise ValidationFailed("cursor is not one this API issued", field="cursor")
    return after
