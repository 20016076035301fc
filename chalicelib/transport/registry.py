"""Which transport sends: chosen per stage by the `TRANSPORT` variable, or overridden by a test.

The environment is read on every call (see `chalicelib.config`), but each
transport is built once per name, so a warm Lambda reuses its boto3 client.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from chalicelib.transport.base import Transport
from chalicelib.transport.eum import EumTransport
from chalicelib.transport.local_outbox import LocalOutboxTransport
from chalicelib.transport.sns import SnsTransport

DEFAULT_TRANSPORT = "local"
FACTORIES: dict[str, Callable[[], Transport]] = {
    "local": LocalOutboxTransport,
    "eum": EumTransport,
    "sns": SnsTransport,
}

_instances: dict[str, Transport] = {}
_instances_lock = threading.Lock()
_override: Transport | None = None
"""Module-wide rather than thread-local, so a test's spy also sees sends made from worker threads."""


def get_transport() -> Transport:
    if _override is not None:
        return _override
    name = os.environ.get("TRANSPORT") or DEFAULT_TRANSPORT
    factory = FACTORIES.get(name)
    if factory is None:
        allowed = ", ".join(FACTORIES)
        raise RuntimeError(f"TRANSPORT={name!r} is not a known transport; use one of: {allowed}")
    with _instances_lock:
        if name not in _instances:
            _instances[name] = factory()
        return _instances[name]


@contextmanager
def use_transport(transport: Transport) -> Iterator[Transport]:
    """Make `get_transport()` return `transport` inside the block; nests, and restores on exit."""
    global _override
    previous, _override = _override, transport
    try:
        yield transport
    finally:
        _override = previous
