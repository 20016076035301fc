"""Amazon SNS direct-to-phone `Publish`: the alternative transport, text only.

SNS SMS has no media, no per-message context and no error for an opted-out
number (SNS drops those itself and reports them only in its delivery logs), so
it suits accounts that have not moved to End User Messaging yet.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.aws_clients import LazyClient
from chalicelib.transport.base import OutboundSms, SendReceipt, TransportError

TRANSIENT_CODES = frozenset({"Throttled", "Throttling", "KMSThrottling", "InternalError", "ServiceUnavailable"})


class SnsTransport:
    """Publishes each message to its phone number; the client is built on first send."""

    name = "sns"

    def __init__(self, client: Any = None) -> None:
        self._client = LazyClient("sns", client)

    @property
    def client(self) -> Any:
        return self._client.get()

    def send(self, message: OutboundSms) -> SendReceipt:
        if message.media_urls:
            raise TransportError("SNS SMS cannot send media; use the eum transport for MMS", permanent=True)
        try:
            response = self.client.publish(
                PhoneNumber=message.to,
                Message=message.body,
                MessageAttributes={
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                    "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": origination_number(message)},
                },
            )
        except (ClientError, BotoCoreError) as exc:
            raise transport_error(exc) from exc
        return SendReceipt(provider_message_id=response["MessageId"])


def origination_number(message: OutboundSms) -> str:
    """SNS takes only an E.164 number here, so an ARN, pool or sender id falls back to our number."""
    identity = message.origination_identity
    return identity if identity.startswith("+") else message.from_number


def transport_error(exc: ClientError | BotoCoreError) -> TransportError:
    """Classify a botocore failure by whether publishing the same message again can succeed."""
    if isinstance(exc, HTTPClientError | BotoConnectionError):
        return TransportError(f"SNS unreachable: {exc}", permanent=False)
    if not isinstance(exc, ClientError):
        return TransportError(f"SNS request not sent: {exc}", permanent=True)
    error = exc.response.get("Error", {})
    code = error.get("Code", "")
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    transient = code in TRANSIENT_CODES or status >= 500
    return TransportError(f"SNS refused the publish: {code}: {error.get('Message', '')}", permanent=not transient)
