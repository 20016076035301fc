"""Webhook signatures: proof that an inbound request comes from whom it claims.

Our webhooks are public URLs; without these checks anyone could inject
messages, opt people out or fake delivery receipts. Two schemes are accepted:
Twilio's `X-Twilio-Signature` (for Twilio-compatible carriers) and our own
HMAC-SHA256 over a timestamp and the raw body for generic JSON senders.
Comparisons are constant-time so that response timing leaks nothing about
the expected value. Pure functions: the caller passes the clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping, Sequence

# A parsed form body: a mapping (values may be lists, as from `parse_qs`) or the pairs themselves (`parse_qsl`).
TwilioParams = Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]

_UNIX_TIME = re.compile(r"[0-9]{1,15}")


def twilio_signature(url: str, params: TwilioParams, auth_token: str) -> str:
    """Twilio's signature: base64 HMAC-SHA1, keyed with the auth token, of the URL and the params.

    The URL is the full one Twilio requested, query string included. Params
    follow in key order (case-sensitive code point order), each as key + value
    with no separator. A repeated key contributes each distinct value, in
    sorted order, as Twilio's own SDKs compute it.
    """
    values: dict[str, set[str]] = {}
    pairs = _pairs(params.items()) if isinstance(params, Mapping) else params
    for key, value in pairs:
        values.setdefault(key, set()).add(value)
    payload = url + "".join(key + value for key in sorted(values) for value in sorted(values[key]))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def verify_twilio(url: str, params: TwilioParams, signature: str | None, auth_token: str) -> bool:
    """Whether `signature` (the `X-Twilio-Signature` header) signs this URL and these params."""
    if not signature:
        return False
    return hmac.compare_digest(twilio_signature(url, params, auth_token).encode(), signature.strip().encode())


def inbound_signature(timestamp: str, body: bytes, secret: str) -> str:
    """Hex HMAC-SHA256, keyed with the shared secret, of "<timestamp>." + the raw body.

    Signing the timestamp with the body is what makes a captured request
    useless to replay once it is stale.
    """
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verify_inbound(
    timestamp: str | None,
    body: bytes,
    signature: str | None,
    secret: str,
    now: float,
    tolerance_seconds: int = 300,
) -> str | None:
    """None when the generic webhook request is authentic, else the reason to refuse it.

    `timestamp` is unix seconds as sent (it is signed as sent); it may be at
    most `tolerance_seconds` old or ahead of `now`, the latter for senders
    whose clock runs fast. The signature is the hex digest, optionally
    prefixed "sha256=". Reasons are short and safe to return in a 403.
    """
    if not signature or not signature.strip():
        return "missing signature"
    if not timestamp or not timestamp.strip():
        return "missing timestamp"
    if not _UNIX_TIME.fullmatch(timestamp):
        return "timestamp is not a unix time"
    age = now - int(timestamp)
    if age > tolerance_seconds:
        return "timestamp too old"
    if -age > tolerance_seconds:
        return "timestamp in the future"
    provided = signature.strip().removeprefix("sha256=").lower()
    if not hmac.compare_digest(inbound_signature(timestamp, body, secret).encode(), provided.encode()):
        return "signature mismatch"
    return None


def _pairs(items: Iterable[tuple[str, str | Sequence[str]]]) -> Iterable[tuple[str, str]]:
    for key, value in items:
        if isinstance(value, str):
            yield key, value
        else:
            for each in value:
                yield key, each
