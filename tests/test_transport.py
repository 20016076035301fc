"""Transports against real request shapes: Stubber for EUM, moto for SNS, DynamoDB Local for the outbox."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws
from moto.sns.models import sns_backends

from chalicelib.transport import registry
from chalicelib.transport.base import OutboundSms, SendReceipt, TransportError
from chalicelib.transport.eum import EumTransport
from chalicelib.transport.local_outbox import LocalOutboxTransport, list_outbox
from chalicelib.transport.sns import SnsTransport

ORIGINATION = "arn:aws:sms-voice:us-east-1:123456789012:phone-number/phone-0123456789abcdef"


def sms(**overrides: object) -> OutboundSms:
    fields: dict[str, object] = {
        "message_id": "msg-1",
        "to": "+15125550101",
        "from_number": "+15125550100",
        "origination_identity": ORIGINATION,
        "body": "Your table is ready",
    }
    return OutboundSms(**{**fields, **overrides})  # type: ignore[arg-type]


# --- EUM ---------------------------------------------------------------------------------------


@pytest.fixture
def eum():
    client = boto3.client("pinpoint-sms-voice-v2", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield EumTransport(client=client), stubber
        stubber.assert_no_pending_responses()


def test_eum_text_carries_our_id_as_context_and_the_message_configuration_set(eum, monkeypatch):
    transport, stubber = eum
    monkeypatch.setenv("EUM_CONFIGURATION_SET", "from-env")
    stubber.add_response(
        "send_text_message",
        {"MessageId": "eum-1"},
        expected_params={
            "DestinationPhoneNumber": "+15125550101",
            "OriginationIdentity": ORIGINATION,
            "MessageBody": "Your table is ready",
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": "from-message",
            "Context": {"message_id": "msg-1"},
        },
    )

    assert transport.send(sms(configuration_set="from-message")) == SendReceipt("eum-1")


def test_eum_text_falls_back_to_the_environment_configuration_set(eum, monkeypatch):
    transport, stubber = eum
    monkeypatch.setenv("EUM_CONFIGURATION_SET", "from-env")
    stubber.add_response(
        "send_text_message",
        {"MessageId": "eum-2"},
        expected_params={
            "DestinationPhoneNumber": "+15125550101",
            "OriginationIdentity": ORIGINATION,
            "MessageBody": "Your table is ready",
            "MessageType": "TRANSACTIONAL",
            "ConfigurationSetName": "from-env",
            "Context": {"message_id": "msg-1"},
        },
    )

    assert transport.send(sms()).provider_message_id == "eum-2"


def test_eum_text_without_any_configuration_set_omits_it(eum, monkeypatch):
    transport, stubber = eum
    monkeypatch.delenv("EUM_CONFIGURATION_SET", raising=False)
    stubber.add_response(
        "send_text_message",
        {"MessageId": "eum-3"},
        expected_params={
            "DestinationPhoneNumber": "+15125550101",
            "OriginationIdentity": ORIGINATION,
            "MessageBody": "Your table is ready",
            "MessageType": "TRANSACTIONAL",
            "Context": {"message_id": "msg-1"},
        },
    )

    assert transport.send(sms()).provider_message_id == "eum-3"


def test_eum_media_sends_the_s3_uri(eum, monkeypatch):
    transport, stubber = eum
    monkeypatch.delenv("EUM_CONFIGURATION_SET", raising=False)
    stubber.add_response(
        "send_media_message",
        {"MessageId": "eum-mms"},
        expected_params={
            "DestinationPhoneNumber": "+15125550101",
            "OriginationIdentity": ORIGINATION,
            "MessageBody": "Menu attached",
            "MediaUrls": ["s3://media-bucket/menus/today.jpg"],
            "ConfigurationSetName": "cs",
            "Context": {"message_id": "msg-1"},
        },
    )

    receipt = transport.send(
        sms(body="Menu attached", media_urls=("s3://media-bucket/menus/today.jpg",), configuration_set="cs")
    )

    assert receipt.provider_message_id == "eum-mms"


def test_eum_media_without_text_omits_the_body(eum, monkeypatch):
    transport, stubber = eum
    monkeypatch.delenv("EUM_CONFIGURATION_SET", raising=False)
    stubber.add_response(
        "send_media_message",
        {"MessageId": "eum-mms-2"},
        expected_params={
            "DestinationPhoneNumber": "+15125550101",
            "OriginationIdentity": ORIGINATION,
            "MediaUrls": ["s3://media-bucket/a.png"],
            "Context": {"message_id": "msg-1"},
        },
    )

    assert transport.send(sms(body="", media_urls=("s3://media-bucket/a.png",))).provider_message_id == "eum-mms-2"


@pytest.mark.parametrize(
    ("media", "complaint"),
    [
        (("s3://b/one.jpg", "s3://b/two.jpg"), "at most 1 media file"),
        (("https://example.com/a.jpg",), "s3://bucket/key"),
    ],
)
def test_eum_refuses_media_the_service_cannot_take_before_calling_it(eum, media, complaint):
    transport, _ = eum
    with pytest.raises(TransportError, match=complaint) as caught:
        transport.send(sms(media_urls=media))
    assert caught.value.permanent


def test_eum_throttling_is_transient(eum):
    transport, stubber = eum
    stubber.add_client_error("send_text_message", "ThrottlingException", "Rate exceeded", http_status_code=400)

    with pytest.raises(TransportError, match="ThrottlingException") as caught:
        transport.send(sms())

    assert caught.value.permanent is False


def test_eum_internal_error_is_transient(eum):
    transport, stubber = eum
    stubber.add_client_error("send_text_message", "InternalServerException", "oops", http_status_code=500)

    with pytest.raises(TransportError) as caught:
        transport.send(sms())

    assert caught.value.permanent is False


def test_eum_opted_out_destination_is_permanent_and_says_so(eum):
    transport, stubber = eum
    stubber.add_client_error(
        "send_text_message",
        "ConflictException",
        "The destination phone number is opted out",
        http_status_code=400,
        modeled_fields={
            "Message": "The destination phone number is opted out",
            "Reason": "DESTINATION_PHONE_NUMBER_OPTED_OUT",
            "ResourceType": "opted-out-number",
            "ResourceId": "+15125550101",
        },
    )

    with pytest.raises(TransportError, match="opt-out list") as caught:
        transport.send(sms())

    assert caught.value.permanent is True
    assert caught.value.recipient_opted_out is True


def test_eum_validation_error_is_permanent(eum):
    transport, stubber = eum
    stubber.add_client_error(
        "send_text_message",
        "ValidationException",
        "bad destination",
        http_status_code=400,
        modeled_fields={"Message": "bad destination", "Reason": "INVALID_PARAMETER", "Fields": []},
    )

    with pytest.raises(TransportError, match="INVALID_PARAMETER") as caught:
        transport.send(sms())

    assert caught.value.permanent is True


def test_eum_blank_text_is_refused_by_client_side_validation_as_permanent(eum):
    transport, _ = eum
    with pytest.raises(TransportError) as caught:
        transport.send(sms(body=""))
    assert caught.value.permanent is True


def test_eum_unreachable_endpoint_is_transient():
    class Unreachable:
        def send_text_message(self, **_: object) -> None:
            raise EndpointConnectionError(endpoint_url="https://sms-voice.us-east-1.amazonaws.com")

    with pytest.raises(TransportError) as caught:
        EumTransport(client=Unreachable()).send(sms())

    assert caught.value.permanent is False


def test_eum_builds_its_client_lazily_with_standard_retries(monkeypatch):
    import boto3

    built = []
    real_session = boto3.session.Session
    monkeypatch.setattr(boto3.session, "Session", lambda *a, **kw: built.append(1) or real_session(*a, **kw))
    transport = EumTransport()
    assert built == []

    client = transport.client

    assert client.meta.service_model.service_name == "pinpoint-sms-voice-v2"
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 3}
    assert transport.client is client


# --- SNS ---------------------------------------------------------------------------------------


@mock_aws
def test_sns_publishes_to_the_phone_number():
    transport = SnsTransport(client=boto3.client("sns", region_name="us-east-1"))

    receipt = transport.send(sms(origination_identity="+15125550100"))

    sent = sns_backends["123456789012"]["us-east-1"].sms_messages
    assert sent[receipt.provider_message_id] == ("+15125550101", "Your table is ready")


def test_sns_request_shape_names_the_origination_number():
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_response(
            "publish",
            {"MessageId": "sns-1"},
            expected_params={
                "PhoneNumber": "+15125550101",
                "Message": "Your table is ready",
                "MessageAttributes": {
                    "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"},
                    # The identity is an ARN, which SNS cannot take, so our E.164 number stands in.
                    "AWS.MM.SMS.OriginationNumber": {"DataType": "String", "StringValue": "+15125550100"},
                },
            },
        )
        assert SnsTransport(client=client).send(sms()).provider_message_id == "sns-1"


def test_sns_refuses_media_permanently():
    with pytest.raises(TransportError, match="cannot send media") as caught:
        SnsTransport(client=object()).send(sms(media_urls=("s3://b/a.jpg",)))
    assert caught.value.permanent is True


@pytest.mark.parametrize(("code", "status", "permanent"), [("Throttled", 400, False), ("InvalidParameter", 400, True)])
def test_sns_error_mapping(code, status, permanent):
    client = boto3.client("sns", region_name="us-east-1")
    with Stubber(client) as stubber:
        stubber.add_client_error("publish", code, "no", http_status_code=status)
        with pytest.raises(TransportError, match=code) as caught:
            SnsTransport(client=client).send(sms())
    assert caught.value.permanent is permanent


# --- local outbox ------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def test_local_outbox_lists_sends_oldest_first():
    transport = LocalOutboxTransport(clock=Clock())
    first = transport.send(sms(message_id="z-first", media_urls=("s3://b/a.jpg",)))
    second = transport.send(sms(message_id="a-second", body="Second"))

    listed = list_outbox()

    assert listed == [
        {
            "message_id": "z-first",
            "to": "+15125550101",
            "from": "+15125550100",
            "body": "Your table is ready",
            "media": ["s3://b/a.jpg"],
            "status": "sent",
            "provider_message_id": first.provider_message_id,
            "created_at": "2025-01-02T03:04:06.123456Z",
        },
        {
            "message_id": "a-second",
            "to": "+15125550101",
            "from": "+15125550100",
            "body": "Second",
            "media": [],
            "status": "sent",
            "provider_message_id": second.provider_message_id,
            "created_at": "2025-01-02T03:04:07.123456Z",
        },
    ]
    assert first.provider_message_id.startswith("local-")
    assert first.provider_message_id != second.provider_message_id


def test_local_outbox_limit_keeps_the_most_recent():
    transport = LocalOutboxTransport(clock=Clock())
    for i in range(5):
        transport.send(sms(message_id=f"m{i}"))

    assert [m["message_id"] for m in list_outbox(limit=2)] == ["m3", "m4"]
    assert len(list_outbox()) == 5
    with pytest.raises(ValueError):
        list_outbox(limit=0)


def test_local_outbox_lists_one_recipients_latest_with_a_query_on_its_index(monkeypatch):
    from pynamodb.connection.base import Connection

    transport = LocalOutboxTransport(clock=Clock())
    for i, to in enumerate(["+15125550101", "+15125550102", "+15125550101", "+15125550101", "+15125550102"]):
        transport.send(sms(message_id=f"m{i}", to=to))
    calls = []
    original = Connection._make_api_call

    def recording(self, operation_name, operation_kwargs, *args, **kwargs):
        calls.append((operation_name, operation_kwargs.get("IndexName")))
        return original(self, operation_name, operation_kwargs, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", recording)

    assert [m["message_id"] for m in list_outbox(to="+15125550101")] == ["m0", "m2", "m3"]
    assert [m["message_id"] for m in list_outbox(limit=2, to="+15125550101")] == ["m2", "m3"]
    assert list_outbox(to="+15125550199") == []
    assert set(calls) == {("Query", "by_to")}


def test_local_outbox_keeps_a_media_only_message():
    LocalOutboxTransport().send(sms(body="", media_urls=("s3://b/a.jpg",)))

    [message] = list_outbox()

    assert (message["body"], message["media"]) == ("", ["s3://b/a.jpg"])


def test_local_outbox_lists_with_a_query_not_a_scan(monkeypatch):
    from pynamodb.connection.base import Connection

    LocalOutboxTransport().send(sms())
    calls = []
    original = Connection._make_api_call

    def recording(self, operation_name, *args, **kwargs):
        calls.append(operation_name)
        return original(self, operation_name, *args, **kwargs)

    monkeypatch.setattr(Connection, "_make_api_call", recording)
    list_outbox()

    assert "Query" in calls
    assert "Scan" not in calls


# --- registry ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind"), [("local", LocalOutboxTransport), ("eum", EumTransport), ("sns", SnsTransport)]
)
def test_registry_chooses_by_environment_and_reuses_the_instance(monkeypatch, name, kind):
    monkeypatch.setenv("TRANSPORT", name)

    transport = registry.get_transport()

    assert isinstance(transport, kind)
    assert transport.name == name
    assert registry.get_transport() is transport


def test_registry_defaults_to_local(monkeypatch):
    monkeypatch.delenv("TRANSPORT", raising=False)
    assert isinstance(registry.get_transport(), LocalOutboxTransport)


def test_registry_names_the_allowed_transports_for_an_unknown_one(monkeypatch):
    monkeypatch.setenv("TRANSPORT", "pigeon")
    with pytest.raises(RuntimeError, match=r"'pigeon'.*local, eum, sns"):
        registry.get_transport()


class Spy:
    name = "spy"

    def __init__(self) -> None:
        self.sent: list[OutboundSms] = []

    def send(self, message: OutboundSms) -> SendReceipt:
        self.sent.append(message)
        return SendReceipt(provider_message_id=f"spy-{len(self.sent)}")


def test_use_transport_overrides_for_every_thread_then_restores(monkeypatch):
    monkeypatch.setenv("TRANSPORT", "local")
    spy, inner = Spy(), Spy()
    seen = []

    with registry.use_transport(spy):
        thread = threading.Thread(target=lambda: seen.append(registry.get_transport()))
        thread.start()
        thread.join()
        with registry.use_transport(inner):
            assert registry.get_transport() is inner
        assert registry.get_transport() is spy

    assert seen == [spy]
    assert isinstance(registry.get_transport(), LocalOutboxTransport)


def test_use_transport_restores_after_an_error():
    with pytest.raises(RuntimeError), registry.use_transport(Spy()):
        raise RuntimeError("boom")

    assert not isinstance(registry.get_transport(), Spy)
