"""Amazon SNS direct-to-phone `Publish`: the alternative transport, text only.

SNS SMS has no media, no per-message context and no error for an opted-out
number (SNS drops those itself and reports them only in its delivery logs), so
it suits accounts that have not moved to End User Messaging yet.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotoConnectionError

from chalicelib.transport.base import OutboundSms, SendReceipt, TransportError

RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})
"""Three attempts in all (botocore's `max_attempts` would count retries only, i.e. four).

botocore retries throttling and 5xx itself; a `TransportError` is what is left after that.
"""

TRANSIENT_CODES = frozenset({"Throttled", "Throttling", "KMSThrottling", "InternalError", "ServiceUnavailable"})


class SnsTransport:
    """Publishes each message to its phone number; the client is built on first send."""

    name = "sns"

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """One client per transport; boto3 clients are thread-safe, creating them is not."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # deferred: the app's cold start does not otherwise load boto3

                    self._client = boto3.session.Session().client("sns", config=RETRIES)
        return self._client

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
