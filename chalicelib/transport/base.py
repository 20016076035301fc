"""The one interface every way of sending a text implements.

Nothing outside `chalicelib.services.outbound` calls a transport: that module
is the single place a message can leave, after the opt-out guard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class OutboundSms:
    """What a transport needs to hand one message to a carrier."""

    message_id: str
    """Our id, carried to the provider as context so receipts can be matched."""
    to: str
    """Destination, E.164."""
    from_number: str
    """The business number, E.164."""
    origination_identity: str
    """What the provider sends from: a phone number, its ARN or id, a sender id or pool."""
    body: str
    media_urls: tuple[str, ...] = field(default=())
    configuration_set: str | None = None


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str


class TransportError(Exception):
    """The provider refused or failed the send; `permanent` says whether a retry can help.

    `recipient_opted_out` is the provider's own opt-out list speaking (a carrier
    STOP we never saw): the caller records it in our store too.
    """

    def __init__(self, message: str, *, permanent: bool, recipient_opted_out: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.recipient_opted_out = recipient_opted_out


class Transport(Protocol):
    name: str

    def send(self, message: OutboundSms) -> SendReceipt: ...
