"""Starting conversations and replying through the API; receipts; preview, media and the outbox."""

import json
from urllib.parse import urlencode

import pytest

from chalicelib.models import Message
from chalicelib.services import conversations, inbound
from chalicelib.signatures import twilio_signature
from tests.conftest import BUSINESS_NUMBER, TEST_API_URL, TWILIO_AUTH_TOKEN

ANA = "+15125550134"


def body(response):
    return json.loads(response.body)


def start(api, contact="(512) 555-0134", text="Your order is ready"):
    return api.post("/conversations", {"business_number": BUSINESS_NUMBER, "contact_number": contact, "body": text})


def test_start_conversation_with_a_new_number_makes_a_contact_and_sends(business, spy, as_agent):
    response = start(as_agent)
    assert response.status_code == 201, response.body
    started = body(response)
    assert started["conversation"]["contact_number"] == ANA
    assert started["conversation"]["status"] == "open"
    assert started["message"]["status"] == "sent"
    assert started["message"]["sender"] == "alex"
    assert started["message"]["body"] == "Your order is ready\nReply STOP to opt out"
    assert started["message"]["encoding"] == "GSM-7"
    assert started["message"]["segments"] == 1
    (sent,) = spy.sent
    expected = (ANA, BUSINESS_NUMBER, "Your order is ready\nReply STOP to opt out")
    assert (sent.to, sent.from_number, sent.body) == expected
    assert body(as_agent.get(f"/contacts/{ANA}"))["last_message_at"] is not None


def test_second_start_for_the_pair_is_409_with_the_open_conversation(business, spy, as_agent):
    first = body(start(as_agent))["conversation"]["id"]
    again = start(as_agent, contact="15125550134")
    assert again.status_code == 409
    error = body(again)["error"]
    assert error["code"] == "conversation_exists"
    assert error["conversation_id"] == first
    assert len(spy.sent) == 1


def test_reply_then_close_makes_it_read_only(business, spy, as_agent):
    conversation_id = body(start(as_agent))["conversation"]["id"]
    reply = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "Anything else? :smile:"})
    assert reply.status_code == 201
    assert body(reply)["body"].startswith("Anything else? 😄")
    assert body(reply)["encoding"] == "UCS-2"
    conversations.close(conversation_id, "ada")
    refused = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "still there?"})
    assert refused.status_code == 409
    assert body(refused)["error"]["code"] == "conversation_closed"
    thread = body(as_agent.get(f"/conversations/{conversation_id}"))
    assert thread["status"] == "closed"
    assert [(m["direction"], m["event"]) for m in thread["messages"]] == [
        ("event", "opened"),
        ("outbound", None),
        ("outbound", None),
        ("event", "closed"),
    ]
    assert len(spy.sent) == 2


def test_reply_validation(business, spy, as_agent):
    conversation_id = body(start(as_agent))["conversation"]["id"]
    empty = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "   "})
    assert empty.status_code == 400
    assert body(empty)["error"]["field"] == "body"
    too_long = as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "x" * 1600})
    assert too_long.status_code == 400
    assert "1600" in body(too_long)["error"]["message"] or "1,600" in body(too_long)["error"]["message"]
    missing = as_agent.post("/conversations/conv_missing/messages", {"body": "hi"})
    assert missing.status_code == 404
    unknown_number = as_agent.post(
        "/conversations", {"business_number": "+15125550999", "contact_number": ANA, "body": "hi"}
    )
    assert unknown_number.status_code == 404
    assert len(spy.sent) == 1


def test_media_is_sent_and_recorded(business, spy, as_agent):
    response = as_agent.post(
        "/conversations",
        {
            "business_number": BUSINESS_NUMBER,
            "contact_number": ANA,
            "body": "",
            "media": [{"url": "s3://test-bucket/media/a.jpg", "content_type": "image/jpeg"}],
        },
    )
    assert response.status_code == 201, response.body
    assert body(response)["message"]["media"] == [{"url": "s3://test-bucket/media/a.jpg", "content_type": "image/jpeg"}]
    assert spy.sent[0].media_urls == ("s3://test-bucket/media/a.jpg",)


def _sent_message(conversation_id):
    (message,) = [m for m in conversations.thread(conversation_id) if m.direction == "outbound"]
    return message


def test_twilio_status_callbacks_never_move_a_final_status_back(client, business, spy, as_agent):
    conversation_id = body(start(as_agent))["conversation"]["id"]
    sid = _sent_message(conversation_id).provider_message_id
    for status in ("delivered", "sent", "failed", "sending"):
        params = {"MessageSid": sid, "MessageStatus": status}
        signature = twilio_signature(TEST_API_URL + "/webhooks/twilio/status", params, TWILIO_AUTH_TOKEN)
        response = client.http.post(
            "/webhooks/twilio/status",
            headers={"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature},
            body=urlencode(params),
        )
        assert response.status_code == 200
    assert _sent_message(conversation_id).status == "delivered"


def test_eum_delivery_events_update_the_status(client, business, spy, as_agent):
    conversation_id = body(start(as_agent))["conversation"]["id"]
    message_id = _sent_message(conversation_id).provider_message_id
    for event_type in ("TEXT_QUEUED", "TEXT_SUCCESSFUL", "TEXT_BLOCKED", "TEXT_DELIVERED"):
        record = {"eventType": event_type, "messageId": message_id, "messageStatus": event_type}
        client.lambda_.invoke("eum_delivery_event", client.events.generate_sns_event(message=json.dumps(record)))
    assert _sent_message(conversation_id).status == "blocked"


def test_inbound_messages_are_not_changed_by_receipts(business, spy):
    result = inbound.receive(inbound.InboundSms("twilio", "SMin", ANA, BUSINESS_NUMBER, "hello"))
    (message,) = [m for m in conversations.thread(result["conversation_id"]) if m.direction == "inbound"]
    assert message.status == "received"
    assert isinstance(message, Message)


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [("Hello", "GSM-7", 1), ("x" * 170, "GSM-7", 2), ("Olá :thumbsup:", "UCS-2", 1)],
)
def test_preview_counts_after_the_appended_message(business, as_agent, text, encoding, segments):
    response = as_agent.post("/messages/preview", {"body": text, "business_number": BUSINESS_NUMBER})
    assert response.status_code == 200, response.body
    preview = body(response)
    assert preview["text"].endswith("\nReply STOP to opt out")
    assert (preview["encoding"], preview["segments"]) == (encoding, segments)


def test_media_upload_returns_a_presigned_url(as_agent):
    response = as_agent.post("/media", {"content_type": "image/png"})
    assert response.status_code == 201
    upload = body(response)
    assert upload["media_id"].startswith("media_")
    assert upload["url"] == f"s3://test-bucket/media/{upload['media_id']}"
    assert "X-Amz-Signature" in upload["upload_url"]
    assert as_agent.post("/media", {"content_type": "text/html"}).status_code == 400


def test_dev_outbox_shows_local_sends_newest_last(business, as_agent):
    start(as_agent, text="first")
    start(as_agent, contact="5125550135", text="second")
    items = body(as_agent.get("/dev/outbox"))["items"]
    assert [(i["to"], i["body"].split("\n")[0]) for i in items] == [(ANA, "first"), ("+15125550135", "second")]
    assert all(i["from"] == BUSINESS_NUMBER and i["status"] == "sent" for i in items)


def test_dev_outbox_filters_by_recipient_in_any_format_and_keeps_the_newest(business, as_agent):
    conversation_id = body(start(as_agent, text="first"))["conversation"]["id"]
    start(as_agent, contact="5125550135", text="other")
    as_agent.post(f"/conversations/{conversation_id}/messages", {"body": "second"})

    def bodies(query):
        response = as_agent.get(f"/dev/outbox?{query}")
        assert response.status_code == 200, response.body
        return [(i["to"], i["body"].split("\n")[0]) for i in body(response)["items"]]

    for written in ("%2B15125550134", "(512)%20555-0134", "512-555-0134", "15125550134"):
        assert bodies(f"to={written}") == [(ANA, "first"), (ANA, "second")], written
    assert bodies("to=5125550134&limit=1") == [(ANA, "second")]
    assert bodies("limit=2") == [("+15125550135", "other"), (ANA, "second")]
    assert bodies("to=5125550199") == []

    for query, field in (
        ("to=12", "to"),
        ("to=", "to"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=x", "limit"),
        ("from=1", "from"),
    ):
        refused = as_agent.get(f"/dev/outbox?{query}")
        assert (refused.status_code, body(refused)["error"]["field"]) == (400, field), query


def test_business_numbers_admin_only_with_compliant_defaults(as_admin, as_agent):
    created = as_admin.post("/business-numbers", {"number": "(512) 555-0199", "name": "Acme Support"})
    assert created.status_code == 201, created.body
    number = body(created)
    assert number["number"] == "+15125550199"
    assert number["mps"] == 1
    assert "STOP" in number["help_text"] and "Acme Support" in number["optout_text"]
    assert as_agent.post("/business-numbers", {"number": "5125550198", "name": "x"}).status_code == 403
    assert as_admin.post("/business-numbers", {"number": "5125550199", "name": "dup"}).status_code == 409
    short = as_admin.post("/business-numbers", {"number": "12345", "name": "Promo", "kind": "short_code"})
    assert body(short)["mps"] == 100
    superscript = {"number": "\u00b9\u00b2\u00b3\u2074\u2075", "name": "x", "kind": "short_code"}
    assert as_admin.post("/business-numbers", superscript).status_code == 400, "digits, but not a short code's"
    bad_scope = as_admin.patch("/business-numbers/+15125550199", {"optout_scope": "campaign"})
    assert bad_scope.status_code == 400
    assert body(bad_scope)["error"]["field"] == "campaign_id"
    patched = as_admin.patch("/business-numbers/+15125550199", {"appended_message": "Acme: STOP to end"})
    assert body(patched)["appended_message"] == "Acme: STOP to end"
    listed = [n["number"] for n in body(as_agent.get("/business-numbers"))["items"]]
    assert sorted(listed) == ["+15125550199", "12345"]


SPANISH = "Acme: se ha dado de baja y no recibirá más mensajes. Responda START para volver a suscribirse."


def test_a_spanish_opt_out_text_is_optional_set_on_create_or_patch_and_cleared_with_null(as_admin, as_agent):
    plain = body(as_admin.post("/business-numbers", {"number": "5125550198", "name": "Plain"}))
    assert plain["optout_text_es"] is None, "no default: the number may have no Spanish-speaking senders"
    created = as_admin.post("/business-numbers", {"number": "5125550199", "name": "Acme", "optout_text_es": SPANISH})
    assert (created.status_code, body(created)["optout_text_es"]) == (201, SPANISH)
    listed = {n["number"]: n["optout_text_es"] for n in body(as_agent.get("/business-numbers"))["items"]}
    assert listed == {"+15125550198": None, "+15125550199": SPANISH}

    path = "/business-numbers/+15125550198"
    assert body(as_admin.patch(path, {"optout_text_es": "Acme: baja confirmada."}))["optout_text_es"] == (
        "Acme: baja confirmada."
    )
    assert body(as_admin.patch(path, {"name": "Plain Co"}))["optout_text_es"] == "Acme: baja confirmada."
    assert body(as_admin.patch(path, {"optout_text_es": None}))["optout_text_es"] is None

    for bad in ("", "x" * 321, 7):
        for refused in (
            as_admin.patch(path, {"optout_text_es": bad}),
            as_admin.post("/business-numbers", {"number": "5125550197", "name": "Bad", "optout_text_es": bad}),
        ):
            assert (refused.status_code, body(refused)["error"]["field"]) == (400, "optout_text_es"), bad
    assert as_agent.patch(path, {"optout_text_es": SPANISH}).status_code == 403


class _CarrierOptedOut:
    name = "eum"

    def send(self, message):
        from chalicelib.transport.base import TransportError

        raise TransportError("recipient is on the EUM opt-out list", permanent=True, recipient_opted_out=True)


def test_a_carrier_opt_out_blocks_the_message_and_enters_our_store(business, as_agent):
    from chalicelib.services import optouts
    from chalicelib.transport.registry import use_transport

    with use_transport(_CarrierOptedOut()):
        started = body(start(as_agent))
    assert started["message"]["status"] == "blocked"
    assert [(h["action"], h["source"], h["actor"]) for h in optouts.history(ANA)] == [("opt_out", "carrier", "eum")]
    assert start(as_agent, text="again").status_code == 409


class _Throttled:
    name = "eum"

    def send(self, message):
        from chalicelib.transport.base import TransportError

        raise TransportError("EUM throttled", permanent=False)


def test_a_failed_hand_off_is_recorded_as_failed(business, as_agent):
    from chalicelib.transport.registry import use_transport

    with use_transport(_Throttled()):
        started = body(start(as_agent))
    assert started["message"]["status"] == "failed"
    assert started["message"]["error"] == "EUM throttled"


def test_a_refused_first_message_leaves_no_conversation_behind(business, spy, as_agent):
    blank = as_agent.post("/conversations", {"business_number": BUSINESS_NUMBER, "contact_number": ANA, "body": " "})
    assert blank.status_code == 400
    assert conversations.open_conversation_id(ANA, BUSINESS_NUMBER) is None
    assert start(as_agent).status_code == 201


@pytest.mark.parametrize("field", ["name", "help_text", "optout_text", "optin_text", "optout_scope"])
def test_required_business_number_fields_cannot_be_nulled(business, as_admin, field):
    response = as_admin.patch(f"/business-numbers/{BUSINESS_NUMBER}", {field: None})
    assert response.status_code == 400
    assert body(response)["error"]["field"] == field


def test_json_responses_say_they_are_json(business, spy, as_agent):
    response = start(as_agent)
    assert response.status_code == 201
    assert response.headers["Content-Type"] == "application/json"
