"""The inbound pipeline through each door: Twilio webhook, signed JSON webhook, EUM via SNS."""

import json
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import pytest

from chalicelib.models import Contact, Conversation, Message, OpenConversation
from chalicelib.services import conversations, inbound
from chalicelib.signatures import inbound_signature, twilio_signature
from tests.conftest import BUSINESS_NUMBER, INBOUND_WEBHOOK_SECRET, TEST_API_URL, TWILIO_AUTH_TOKEN

FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def twilio_post(client, path, params, token=TWILIO_AUTH_TOKEN):
    signature = twilio_signature(TEST_API_URL + path, params, token)
    return client.http.post(path, headers={**FORM, "X-Twilio-Signature": signature}, body=urlencode(params))


def twilio_message(sid, body, sender="+15125550134", **extra):
    return {"MessageSid": sid, "From": sender, "To": BUSINESS_NUMBER, "Body": body, "NumMedia": "0", **extra}


def json_post(client, payload, secret=INBOUND_WEBHOOK_SECRET, timestamp=None):
    body = json.dumps(payload).encode()
    stamp = str(int(timestamp if timestamp is not None else time.time()))
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": inbound_signature(stamp, body, secret),
    }
    return client.http.post("/webhooks/inbound", headers=headers, body=body)


def messages_of(conversation_id):
    return [m for m in conversations.thread(conversation_id) if m.direction == "inbound"]


def test_twilio_inbound_creates_contact_and_conversation_then_joins_it(client, business, spy):
    first = twilio_post(client, "/webhooks/twilio", twilio_message("SM1", "Hi there"))
    assert first.status_code == 200, first.body
    assert b"<Response/>" in first.body
    assert first.headers["Content-Type"] == "text/xml"
    contact = Contact.get("+15125550134")
    assert contact.first_contact_at is not None and contact.last_message_at is not None
    lock = OpenConversation.get("+15125550134|" + BUSINESS_NUMBER)
    twilio_post(client, "/webhooks/twilio", twilio_message("SM2", "Are you open today?"))
    assert OpenConversation.get("+15125550134|" + BUSINESS_NUMBER).conversation_id == lock.conversation_id
    conversation = Conversation.get(lock.conversation_id)
    assert conversation.unread is True
    assert conversation.last_message_preview == "Are you open today?"
    assert [m.body for m in messages_of(lock.conversation_id)] == ["Hi there", "Are you open today?"]
    assert spy.sent == []


def test_twilio_media_is_recorded_as_attachments(client, business, spy):
    params = twilio_message(
        "SM3",
        "photo",
        NumMedia="2",
        MediaUrl0="https://media.example/a.jpg",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://media.example/b.png",
        MediaContentType1="image/png",
    )
    assert twilio_post(client, "/webhooks/twilio", params).status_code == 200
    conversation_id = OpenConversation.get("+15125550134|" + BUSINESS_NUMBER).conversation_id
    (message,) = messages_of(conversation_id)
    assert [(m.url, m.content_type) for m in message.media] == [
        ("https://media.example/a.jpg", "image/jpeg"),
        ("https://media.example/b.png", "image/png"),
    ]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda p, h: (p, {**h, "X-Twilio-Signature": "bm9wZQ=="}),
        lambda p, h: ({**p, "Body": "changed"}, h),
        lambda p, h: (p, {k: v for k, v in h.items() if k != "X-Twilio-Signature"}),
    ],
)
def test_bad_twilio_signature_is_403_and_stores_nothing(client, business, tamper):
    params = twilio_message("SM9", "hello")
    headers = {**FORM, "X-Twilio-Signature": twilio_signature(TEST_API_URL + "/webhooks/twilio", params, "x")}
    headers["X-Twilio-Signature"] = twilio_signature(TEST_API_URL + "/webhooks/twilio", params, TWILIO_AUTH_TOKEN)
    params, headers = tamper(params, headers)
    response = client.http.post("/webhooks/twilio", headers=headers, body=urlencode(params))
    assert response.status_code == 403
    assert json.loads(response.body)["error"]["code"] == "forbidden"
    with pytest.raises(Contact.DoesNotExist):
        Contact.get("+15125550134")


def test_same_message_sid_five_times_stores_one_message(client, business, spy):
    for _ in range(5):
        assert twilio_post(client, "/webhooks/twilio", twilio_message("SMdup", "once")).status_code == 200
    conversation_id = OpenConversation.get("+15125550134|" + BUSINESS_NUMBER).conversation_id
    assert len(messages_of(conversation_id)) == 1
    assert Conversation.get(conversation_id).message_count == 1


def test_fifty_concurrent_messages_from_a_new_number(dynamodb, business, spy):
    def deliver(i):
        return inbound.receive(
            inbound.InboundSms("twilio", f"SMrace{i}", "(737) 555-0150", BUSINESS_NUMBER, f"message {i}")
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(deliver, range(50)))
    assert len({r["conversation_id"] for r in results}) == 1
    assert len(list(Contact.query("+17375550150"))) == 1
    conversation_id = results[0]["conversation_id"]
    assert sorted(m.body for m in messages_of(conversation_id)) == sorted(f"message {i}" for i in range(50))
    assert Conversation.get(conversation_id).message_count == 50
    assert [c.id for c in Conversation.by_contact.query("+17375550150")] == [conversation_id]


def test_closed_conversation_is_never_reopened(client, business, spy):
    twilio_post(client, "/webhooks/twilio", twilio_message("SMc1", "first"))
    first_id = OpenConversation.get("+15125550134|" + BUSINESS_NUMBER).conversation_id
    conversations.close(first_id, "ada")
    twilio_post(client, "/webhooks/twilio", twilio_message("SMc2", "second"))
    second_id = OpenConversation.get("+15125550134|" + BUSINESS_NUMBER).conversation_id
    assert second_id != first_id
    assert Conversation.get(first_id).status == "closed"
    assert [m.body for m in messages_of(first_id)] == ["first"]
    assert [m.body for m in messages_of(second_id)] == ["second"]


def test_signed_json_webhook(client, business, spy):
    payload = {"id": "wh-1", "from": "+15125550134", "to": BUSINESS_NUMBER, "body": "json hello"}
    response = json_post(client, payload)
    assert response.status_code == 200, response.body
    result = json.loads(response.body)
    assert result["accepted"] is True
    assert [m.body for m in messages_of(result["conversation_id"])] == ["json hello"]


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [({"secret": "wrong"}, "signature mismatch"), ({"timestamp": time.time() - 301}, "timestamp too old")],
)
def test_json_webhook_refuses_bad_signature_or_stale_timestamp(client, business, kwargs, reason):
    response = json_post(client, {"id": "wh-2", "from": "+15125550134", "to": BUSINESS_NUMBER, "body": "x"}, **kwargs)
    assert response.status_code == 403
    assert reason in json.loads(response.body)["error"]["message"]
    assert list(Message.scan()) == []


def test_eum_inbound_via_sns(client, business, spy):
    from app import app

    payload = {
        "originationNumber": "+15125550134",
        "destinationNumber": BUSINESS_NUMBER,
        "messageKeyword": "KEYWORD_123",
        "messageBody": "hello from EUM",
        "inboundMessageId": "eum-1",
        "previousPublishedMessageId": "prev-1",
    }
    event = client.events.generate_sns_event(message=json.dumps(payload), subject="")
    client.lambda_.invoke("eum_inbound", event)
    client.lambda_.invoke("eum_inbound", event)
    conversation_id = OpenConversation.get("+15125550134|" + BUSINESS_NUMBER).conversation_id
    assert [m.body for m in messages_of(conversation_id)] == ["hello from EUM"]
    assert app is not None


def test_inbound_to_an_unknown_business_number_is_refused(client, business):
    params = {**twilio_message("SMx", "hi"), "To": "+15125550999"}
    response = twilio_post(client, "/webhooks/twilio", params)
    assert response.status_code == 404
    assert json.loads(response.body)["error"]["field"] == "business_number"


@pytest.mark.parametrize(
    ("sender", "reason", "once_stored_as"),
    [
        ("order 4 4791 1123 456", "letters mixed with digits: not a phone number", "+447911123456"),
        ("1.51255513E+10", "the spreadsheet turned this column into numbers", "+15125551310"),
    ],
)
def test_a_sender_that_is_not_a_phone_number_is_refused(client, business, spy, sender, reason, once_stored_as):
    response = twilio_post(client, "/webhooks/twilio", twilio_message("SMbad", "hi", sender=sender))
    assert response.status_code == 400, response.body
    error = json.loads(response.body)["error"]
    assert (error["code"], error["field"]) == ("validation_error", "from")
    assert error["message"].startswith(f"from: {reason}")
    refused = json_post(client, {"id": "wh-bad", "from": sender, "to": BUSINESS_NUMBER, "body": "hi"})
    assert (refused.status_code, json.loads(refused.body)["error"]["field"]) == (400, "from")
    assert list(Message.scan()) == []
    with pytest.raises(Contact.DoesNotExist):
        Contact.get(once_stored_as)
