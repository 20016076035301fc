"""Powertools logging, tracing and metrics, with personal data masked in every log line.

Masking happens in the formatter, on the finished record, so a phone number,
email or message body never reaches the logs whoever wrote the log call.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from chalicelib.phone import mask as mask_number

SERVICE = "sms-engagement"
METRICS_NAMESPACE = "SmsEngagement"
_PHONE = re.compile(r"\+\d{7,15}\b|\b\d{10,15}\b|\(?\b\d{3}\)?[ .-]?\d{3}[ .-]\d{4}\b")
_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
_BODY_KEYS = frozenset({"body", "message_body", "messagebody", "text"})
_RECORD_KEYS = frozenset({"timestamp", "location", "level", "service", "xray_trace_id", "sampling_rate"})


def mask_text(text: str) -> str:
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(lambda m: mask_number(re.sub(r"[^\d+]", "", m.group(0))), text)


def mask_value(value: Any, key: str = "") -> Any:
    """Recursively mask personal data in a log record."""
    if isinstance(value, dict):
        return {k: v if k in _RECORD_KEYS else mask_value(v, str(k).lower()) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(v, key) for v in value]
    if isinstance(value, str):
        if key in _BODY_KEYS:
            return f"[{len(value)} chars]"
        return mask_text(value)
    return value


class MaskingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return super().serialize(mask_value(log))


logger = Logger(service=SERVICE, logger_formatter=MaskingFormatter())
tracer = Tracer(service=SERVICE, patch_modules=("botocore",))
metrics = Metrics(service=SERVICE, namespace=METRICS_NAMESPACE)
