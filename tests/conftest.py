"""Test harness: a real DynamoDB Local for the whole run, clean tables for every test.

The suite starts its own in-memory DynamoDB Local on a free port (and stops it
afterwards), so it never touches the data of a running `make run` stack. Set
TEST_DYNAMODB_ENDPOINT to reuse an engine that is already running.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from chalice.local import LocalChalice
from chalice.test import Client

from chalicelib.transport.base import OutboundSms, SendReceipt
from devstack import dynamodb_local
from devstack.tokens import demo_token

ROOT = Path(__file__).resolve().parent.parent
TEST_API_URL = "http://testserver"
TWILIO_AUTH_TOKEN = "test-twilio-token"
INBOUND_WEBHOOK_SECRET = "test-inbound-secret"
BUSINESS_NUMBER = "+15125550100"


def local_stage_environment() -> dict[str, str]:
    config = json.loads((ROOT / ".chalice/config.json").read_text())
    return {**config["environment_variables"], **config["stages"]["local"]["environment_variables"]}


@pytest.fixture(scope="session", autouse=True)
def dynamodb() -> Iterator[str]:
    endpoint = os.environ.get("TEST_DYNAMODB_ENDPOINT")
    process = None
    if not endpoint:
        port = dynamodb_local.free_port()
        process = dynamodb_local.start(port)
        endpoint = f"http://127.0.0.1:{port}"
    os.environ.update(
        {
            **local_stage_environment(),
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "API_URL": TEST_API_URL,
            "TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN,
            "INBOUND_WEBHOOK_SECRET": INBOUND_WEBHOOK_SECRET,
            "BUCKET": "test-bucket",
        }
    )
    os.environ.pop("AWS_PROFILE", None)
    from chalicelib.models.tables import create_tables

    create_tables()
    yield endpoint
    if process is not None:
        process.terminate()
        process.wait(timeout=30)


@pytest.fixture(scope="session", autouse=True)
def moto_s3_sqs(dynamodb: str) -> Iterator[str]:
    """One moto server for S3 and SQS (no official local engine), set before any client is built."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=dynamodb_local.free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    os.environ.update({"AWS_ENDPOINT_URL_S3": endpoint, "AWS_ENDPOINT_URL_SQS": endpoint})
    yield endpoint
    server.stop()


@dataclass
class Bucket:
    """The app's bucket and imports queue on moto, for tests that drop files and read results."""

    s3: Any
    sqs: Any
    name: str
    imports_queue_url: str
    exports_queue_url: str
    groups_queue_url: str = ""
    send_queue_url: str = ""

    def put(self, key: str, body: bytes) -> dict[str, Any]:
        return self.s3.put_object(Bucket=self.name, Key=key, Body=body)

    def read(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.name, Key=key)["Body"].read()

    def listing(self, prefix: str = "") -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.name, Prefix=prefix)
        return sorted(item["Key"] for item in listed.get("Contents", []))

    def drain(self, queue_url: str | None = None) -> list[str]:
        """Bodies waiting in a queue (by default the imports queue's resume messages), removed from it."""
        queue_url = queue_url or self.imports_queue_url
        bodies = []
        while True:
            received = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
            messages = received.get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(message["Body"])
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


@pytest.fixture
def bucket(moto_s3_sqs: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Bucket]:
    import boto3

    s3, sqs = boto3.client("s3", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
    name = os.environ["BUCKET"]
    s3.create_bucket(Bucket=name)
    queue_url = sqs.create_queue(QueueName="imports")["QueueUrl"]
    exports_url = sqs.create_queue(QueueName="exports")["QueueUrl"]
    monkeypatch.setenv("IMPORTS_QUEUE_URL", queue_url)
    monkeypatch.setenv("EXPORTS_QUEUE_URL", exports_url)
    fixture_groups_url = sqs.create_queue(QueueName="groups")["QueueUrl"]
    monkeypatch.setenv("GROUPS_QUEUE_URL", fixture_groups_url)
    send_url = sqs.create_queue(QueueName="send")["QueueUrl"]
    monkeypatch.setenv("SEND_QUEUE_URL", send_url)
    fixture = Bucket(s3, sqs, name, queue_url, exports_url, fixture_groups_url, send_url)
    yield fixture
    for key in fixture.listing():
        s3.delete_object(Bucket=name, Key=key)
    fixture.drain()
    fixture.drain(exports_url)
    fixture.drain(fixture_groups_url)
    fixture.drain(send_url)


@pytest.fixture(autouse=True)
def clean_tables(dynamodb: str) -> Iterator[None]:
    """Empty every table after each test (a test-only Scan; the app never scans)."""
    yield
    from chalicelib.models import ALL_MODELS

    for model in ALL_MODELS:
        with model.batch_write() as batch:
            for item in model.scan():
                batch.delete(item)


@pytest.fixture(scope="session")
def app() -> Any:
    """The app as `chalice local` serves it: each thread has its own current request.

    Chalice keeps the request being handled on the app object. Lambda runs one
    request per environment and `chalice local` makes it thread-local, but the
    test client does neither, so the tests that race requests on threads would
    let one request's handler read another's caller.
    """
    from app import app as chalice_app

    chalice_app.__class__ = LocalChalice
    return chalice_app


@pytest.fixture
def client(app: Any) -> Iterator[Client]:
    with Client(app, stage_name="local") as test_client:
        yield test_client


class Api:
    """JSON requests to the app as one user, through the real Chalice routing."""

    def __init__(self, client: Client, token: str | None) -> None:
        self._client = client
        self._token = token

    def request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self._token:
            all_headers["Authorization"] = self._token
        payload = body if isinstance(body, str | bytes) or body is None else json.dumps(body)
        return getattr(self._client.http, method.lower())(path, headers=all_headers, body=payload)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: Any = None, **kw: Any) -> Any:
        return self.request("PATCH", path, body, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def as_admin(client: Client) -> Api:
    return Api(client, demo_token("ada", "admin"))


@pytest.fixture
def as_supervisor(client: Client) -> Api:
    return Api(client, demo_token("sam", "supervisor"))


@pytest.fixture
def as_agent(client: Client) -> Api:
    return Api(client, demo_token("alex", "agent"))


@pytest.fixture
def anonymous(client: Client) -> Api:
    return Api(client, None)


@dataclass
class SpyTransport:
    """Records what reaches the transport; the one place a test looks to see what was "sent"."""

    name: str = "spy"
    sent: list[OutboundSms] = field(default_factory=list)

    def send(self, message: OutboundSms) -> SendReceipt:
        self.sent.append(message)
        return SendReceipt(provider_message_id=f"spy-{len(self.sent)}")

    def to(self, number: str) -> list[OutboundSms]:
        return [m for m in self.sent if m.to == number]


@pytest.fixture
def spy() -> Iterator[SpyTransport]:
    from chalicelib.transport.registry import use_transport

    with use_transport(SpyTransport()) as transport:
        yield transport


@pytest.fixture
def business(dynamodb: str) -> dict[str, Any]:
    from chalicelib.services import business_numbers

    return business_numbers.create(
        {"number": BUSINESS_NUMBER, "name": "Acme", "appended_message": "Reply STOP to opt out"}
    )


@dataclass
class Team:
    """Two agents in different groups, a supervisor and an admin, as the manual's examples have them."""

    alex: Api
    riley: Api
    sam: Api
    ada: Api
    sales: str
    support: str

    def as_user(self, username: str) -> Api:
        return getattr(self, username)


@pytest.fixture
def team(client: Client, business: dict[str, Any]) -> Team:
    """alex works in Sales, riley in Support; sam supervises, ada administers."""
    from chalicelib.services import agents

    for username, role in (("alex", "agent"), ("riley", "agent"), ("sam", "supervisor"), ("ada", "admin")):
        agents.create_agent({"username": username, "name": username.title(), "role": role})
    return Team(
        alex=Api(client, demo_token("alex", "agent")),
        riley=Api(client, demo_token("riley", "agent")),
        sam=Api(client, demo_token("sam", "supervisor")),
        ada=Api(client, demo_token("ada", "admin")),
        sales=agents.create_group("Sales", ["alex"])["id"],
        support=agents.create_group("Support", ["riley"])["id"],
    )


@pytest.fixture
def dynamodb_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every DynamoDB operation the code under test sends, in order, through PynamoDB or not."""
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def recording(self: BaseClient, operation_name: str, api_params: dict) -> Any:
        if self.meta.service_model.service_name == "dynamodb":
            calls.append(operation_name)
        return original(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", recording)
    return calls
