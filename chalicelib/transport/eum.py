"""AWS End User Messaging SMS (`pinpoint-sms-voice-v2`): the production transport.

Our message id travels as `Context`, which EUM copies into every event
destination record, so delivery receipts can be matched without a lookup table.
EUM keeps its own opt-out lists and refuses a send to a number on them; that
refusal surfaces as a permanent `TransportError` naming the opt-out, so the
caller can record the message as blocked rather than failed.
"""

from __future__ import annotations

import os
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.aws_clients import LazyClient
from chalicelib.transport.base import OutboundSms, SendReceipt, TransportError

SERVICE = "pinpoint-sms-voice-v2"
CONFIGURATION_SET_ENV = "EUM_CONFIGURATION_SET"
MAX_MEDIA_URLS = 1
"""`SendMediaMessage.MediaUrls` holds at most one item in the service model."""

TRANSIENT_CODES = frozenset({"ThrottlingException", "InternalServerException", "ServiceUnavailable"})
OPTED_OUT = "DESTINATION_PHONE_NUMBER_OPTED_OUT"


class EumTransport:
    """Sends through EUM; the client is built on first send so importing costs nothing."""

    name = "eum"

    def __init__(self, client: Any = None) -> None:
        self._client = LazyClient(SERVICE, client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def send(self, message: OutboundSms) -> SendReceipt:
        try:
            if message.media_urls:
                response = self.client.send_media_message(**self._media_request(message))
            else:
                response = self.client.send_text_message(**self._text_request(message))
        except (ClientError, BotoCoreError) as exc:
            raise transport_error(exc) from exc
        return SendReceipt(provider_message_id=response["MessageId"])

    def _text_request(self, message: OutboundSms) -> dict[str, Any]:
        return {
            **self._common(message),
            "MessageBody": message.body,
            "MessageType": "TRANSACTIONAL",
        }

    def _media_request(self, message: OutboundSms) -> dict[str, Any]:
        if len(message.media_urls) > MAX_MEDIA_URLS:
            raise TransportError(
                f"EUM sends at most {MAX_MEDIA_URLS} media file per message, got {len(message.media_urls)}",
                permanent=True,
            )
        url = message.media_urls[0]
        if not url.startswith("s3://"):
            raise TransportError(f"EUM media must be an s3://bucket/key URI, got {url!r}", permanent=True)
        request = {**self._common(message), "MediaUrls": [url]}
        if message.body.strip():
            # A media message may have no text, but the service refuses an empty or blank body.
            request["MessageBody"] = message.body
        return request

    def _common(self, message: OutboundSms) -> dict[str, Any]:
        request: dict[str, Any] = {
            "DestinationPhoneNumber": message.to,
            "OriginationIdentity": message.origination_identity,
            "Context": {"message_id": message.message_id},
        }
        configuration_set = message.configuration_set or os.environ.get(CONFIGURATION_SET_ENV)
        if configuration_set:
            request["ConfigurationSetName"] = configuration_set
        return request


def transport_error(exc: ClientError | BotoCoreError) -> TransportError:
    """Classify a botocore failure by whether sending the same message again can succeed."""
    if isinstance(exc, HTTPClientError | BotoConnectionError):
        return TransportError(f"EUM unreachable: {exc}", permanent=False)
    if not isinstance(exc, ClientError):
        return TransportError(f"EUM request not sent: {exc}", permanent=True)
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    reason = exc.response.get("Reason")
    if code == "ConflictException" and reason == OPTED_OUT:
        return TransportError(
            f"recipient is on the EUM opt-out list ({OPTED_OUT})", permanent=True, recipient_opted_out=True
        )
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    transient = code in TRANSIENT_CODES or status >= 500
    detail = f"{code} ({reason})" if reason else code
    return TransportError(f"EUM refused the send: {detail}: {error.get('Message', '')}", permanent=not transient)
