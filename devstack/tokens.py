"""Unsigned demo ID tokens for the local stage.

`chalice local` and `chalice.test.Client` decode a Cognito token's claims
without verifying it (API Gateway does that in AWS), so a locally made token
with the same claims exercises exactly the production code path.
"""

from __future__ import annotations

import base64
import json


def _segment(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")


def demo_token(username: str, *groups: str) -> str:
    header = {"alg": "none", "typ": "JWT"}
    claims = {"cognito:username": username, "cognito:groups": list(groups), "token_use": "id"}
    return f"{_segment(header)}.{_segment(claims)}.unsigned"
