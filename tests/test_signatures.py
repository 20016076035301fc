import base64
import hashlib
import hmac
from urllib.parse import parse_qs, parse_qsl

import pytest

from chalicelib.signatures import inbound_signature, twilio_signature, verify_inbound, verify_twilio

# Twilio's documented example (webhooks security guide).
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
TOKEN = "12345"
SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilio_documented_examples():
    assert twilio_signature(URL, PARAMS, TOKEN) == SIGNATURE
    # The later edition of the same example, with other numbers.
    newer = {**PARAMS, "Caller": "+14158675309", "From": "+14158675309"}
    assert twilio_signature(URL, newer, TOKEN) == "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_twilio_signature_verifies_and_ignores_param_order():
    assert verify_twilio(URL, dict(reversed(PARAMS.items())), SIGNATURE, TOKEN)
    assert verify_twilio(URL, list(PARAMS.items()), SIGNATURE, TOKEN)


@pytest.mark.parametrize(
    ("url", "params", "token"),
    [
        (URL.replace("foo=1", "foo=2"), PARAMS, TOKEN),
        ("http://mycompany.com/myapp.php?foo=1&bar=2", PARAMS, TOKEN),
        (URL, {**PARAMS, "Digits": "1235"}, TOKEN),
        (URL, {**PARAMS, "Body": ""}, TOKEN),
        (URL, {k: v for k, v in PARAMS.items() if k != "To"}, TOKEN),
        (URL, PARAMS, "54321"),
    ],
)
def test_tampered_twilio_request_fails(url, params, token):
    assert not verify_twilio(url, params, SIGNATURE, token)


@pytest.mark.parametrize("signature", [None, "", "0/KCTR6DLpKmkAf8muzZqo1nDgQ", "ü" * 28])
def test_missing_or_malformed_twilio_signature_fails(signature):
    assert not verify_twilio(URL, PARAMS, signature, TOKEN)


def test_twilio_repeated_keys_sign_each_distinct_value_in_order():
    body = "To=%2B18005551212&MediaUrl=https%3A%2F%2Fb&MediaUrl=https%3A%2F%2Fa&MediaUrl=https%3A%2F%2Fa"
    payload = URL + "MediaUrlhttps://aMediaUrlhttps://bTo+18005551212"
    expected = base64.b64encode(hmac.new(TOKEN.encode(), payload.encode(), hashlib.sha1).digest()).decode()
    assert twilio_signature(URL, parse_qs(body), TOKEN) == expected
    assert twilio_signature(URL, parse_qsl(body), TOKEN) == expected
    assert verify_twilio(URL, {"To": "+18005551212", "MediaUrl": ["https://b", "https://a"]}, expected, TOKEN)


NOW = 1_700_000_000.0
SECRET = "whsec_test"
BODY = b'{"from":"+15125550134","to":"+15125550100","body":"hi"}'
TS = "1700000000"


def test_inbound_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert inbound_signature(TS, BODY, SECRET) == expected
    # A fixed vector, so that a change of scheme cannot pass unnoticed.
    assert inbound_signature("1", b"", "k") == hmac.new(b"k", b"1.", hashlib.sha256).hexdigest()


def test_inbound_valid_with_or_without_prefix():
    signature = inbound_signature(TS, BODY, SECRET)
    assert verify_inbound(TS, BODY, signature, SECRET, NOW) is None
    assert verify_inbound(TS, BODY, "sha256=" + signature, SECRET, NOW) is None
    assert verify_inbound(TS, BODY, signature.upper(), SECRET, NOW) is None


@pytest.mark.parametrize(
    ("timestamp", "body", "signature", "reason"),
    [
        (TS, BODY, None, "missing signature"),
        (TS, BODY, "  ", "missing signature"),
        (None, BODY, "abc", "missing timestamp"),
        ("", BODY, "abc", "missing timestamp"),
        ("2023-11-14T22:13:20Z", BODY, "abc", "timestamp is not a unix time"),
        ("1700000000.5", BODY, "abc", "timestamp is not a unix time"),
        ("-5", BODY, "abc", "timestamp is not a unix time"),
        (TS, BODY + b" ", "valid", "signature mismatch"),
        (TS, BODY, "sha256=" + "0" * 64, "signature mismatch"),
        (TS, BODY, "ünicode", "signature mismatch"),
    ],
)
def test_inbound_refusals_say_why(timestamp, body, signature, reason):
    if signature == "valid":
        signature = inbound_signature(TS, BODY, SECRET)
    assert verify_inbound(timestamp, body, signature, SECRET, NOW) == reason


def test_inbound_signature_is_bound_to_its_timestamp():
    signature = inbound_signature(TS, BODY, SECRET)
    assert verify_inbound("1700000001", BODY, signature, SECRET, NOW) == "signature mismatch"


@pytest.mark.parametrize(
    ("offset", "reason"),
    [(-300, None), (-301, "timestamp too old"), (300, None), (301, "timestamp in the future")],
)
def test_inbound_timestamp_tolerance_both_ways(offset, reason):
    timestamp = str(int(NOW) + offset)
    signature = inbound_signature(timestamp, BODY, SECRET)
    assert verify_inbound(timestamp, BODY, signature, SECRET, NOW) == reason
    assert verify_inbound(timestamp, BODY, signature, SECRET, NOW, tolerance_seconds=1000) is None
