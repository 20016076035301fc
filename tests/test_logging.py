"""Logs are structured JSON and never carry a full phone number, email or message body."""

import io
import json

import pytest

from chalicelib.observability import logger, mask_value


@pytest.fixture
def log_output():
    """Redirect the Powertools handler to a buffer; returns a reader of raw lines."""
    buffer = io.StringIO()
    previous = logger.registered_handler.setStream(buffer)
    yield lambda: buffer.getvalue().splitlines()
    logger.registered_handler.setStream(previous)


def test_a_request_log_line_is_json_with_the_route(as_agent, log_output):
    as_agent.post("/contacts", {"number": "5125550134", "email": "ana@example.com"})
    records = [json.loads(line) for line in log_output()]
    request_lines = [r for r in records if r.get("message") == "request"]
    assert request_lines[-1]["route"] == "POST /contacts"
    assert request_lines[-1]["status"] == 201
    assert request_lines[-1]["service"] == "sms-engagement"


def test_personal_data_is_masked_in_log_lines(log_output):
    logger.info(
        "inbound from +15125550134 (ana.diaz@example.com), call (512) 555-0134",
        extra={"number": "+15125550134", "body": "my secret order 1234", "contact": {"email": "ana@example.com"}},
    )
    line = log_output()[-1]
    record = json.loads(line)
    for secret in ("5125550134", "555-0134", "ana.diaz@example.com", "ana@example.com", "my secret order"):
        assert secret not in line
    assert record["number"] == "+15*******34"
    assert record["body"] == "[20 chars]"
    assert record["contact"]["email"] == "a***@example.com"
    assert "+15*******34" in record["message"]
    assert record["timestamp"].startswith("20")


def test_mask_value_leaves_ordinary_values_alone():
    assert mask_value({"status": 201, "route": "GET /contacts", "count": 12345}) == {
        "status": 201,
        "route": "GET /contacts",
        "count": 12345,
    }
