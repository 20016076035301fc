"""The few lines `make run` prints once everything is up: where things are and how to call them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from devstack.demo_data import DEMO_USERS
from devstack.environment import Ports
from devstack.resources import IMPORTS_PREFIX, LocalResources

EXAMPLE_NUMBER = "(512) 555-0134"
EXAMPLE_E164 = "+15125550134"


@dataclass(frozen=True)
class StackReport:
    """What the supervisor found or started, for the summary."""

    ports: Ports
    resources: LocalResources
    reused: frozenset[str]
    contacts_created: int
    contacts_existing: int
    env_file: str
    log_dir: str


def render(report: StackReport, env: Mapping[str, str]) -> str:
    names = report.resources.names

    def origin(service: str) -> str:
        return "already running, reused" if service in report.reused else "started"

    total = report.contacts_created + report.contacts_existing
    lines = [
        "",
        "Local stack is up.",
        "",
        f"  API                {report.ports.api_url}   (chalice local, stage local)",
        f"  DynamoDB Local     {report.ports.dynamodb_endpoint}   ({origin('dynamodb')}; data in .local/dynamodb)",
        f"  S3 / SQS / SNS     {report.ports.moto_endpoint}   (moto, {origin('moto')}; state lasts while it runs)",
        f"  bucket             {names.bucket}   ({IMPORTS_PREFIX} -> queue {names.imports_queue})",
        f"  queues             {names.imports_queue}, {names.exports_queue}, {names.send_queue},"
        f" {names.groups_queue}   (each with a -dlq)",
        f"  topics             {names.inbound_sms_topic}, {names.delivery_events_topic}",
        "  event worker       python -m devstack.worker",
        f"  demo contacts      {total} ({report.contacts_created} created now)",
        f"  logs               {report.log_dir}/<name>.log",
        f"  environment        {report.env_file}",
        "",
        "Demo users (tokens are also in the env file):",
    ]
    for user in DEMO_USERS:
        lines.append(f"  {user.username:<6} {user.group:<11} {user.env_var}={env[user.env_var]}")
    lines += [
        "",
        "Try it (in another shell, from this directory):",
        f"  set -a; . {report.env_file}; set +a",
        '  curl -s -X POST "$API_URL/contacts" -H "Authorization: $TOKEN_ADMIN" '
        f'-H \'Content-Type: application/json\' -d \'{{"number":"{EXAMPLE_NUMBER}","first_name":"Ana"}}\'',
        f'  curl -s "$API_URL/contacts/{EXAMPLE_E164}" -H "Authorization: $TOKEN_ADMIN"',
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)
