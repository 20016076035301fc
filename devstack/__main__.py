"""`make run`: the whole app on this machine, in one foreground command.

Starts (or reuses) DynamoDB Local and moto, creates the tables, bucket, queues
and topics, seeds demo data, then runs `chalice local` and the event worker
until Ctrl-C or SIGTERM, when it stops exactly the processes it started.
"""

from __future__ import annotations

import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

import boto3

from devstack import dynamodb_local, moto_server
from devstack.children import Child, StackError, answers_http, port_in_use, spawn, stop, wait_until
from devstack.demo_data import (
    seed_agents,
    seed_business_number,
    seed_campaign,
    seed_contacts,
    seed_quick_texts,
    user_tokens,
)
from devstack.environment import (
    LOCAL_DIR,
    REGION,
    ROOT,
    Ports,
    apply_in_process,
    aws_environment,
    child_environment,
    load_or_create_secrets,
    stage_environment,
    write_env_file,
)
from devstack.resources import LocalResources, ensure_resources, ensure_tables, verify_imports_notification
from devstack.summary import StackReport, render

STAGE = "local"
LOG_DIR = LOCAL_DIR / "logs"
ENV_FILE = LOCAL_DIR / "env"
WORKER_READY_MARKERS = ("polling for", "idling until stopped")


class ShutdownRequested(BaseException):
    """Raised by the SIGINT/SIGTERM handler; a BaseException so no `except Exception` swallows it."""


def say(message: str) -> None:
    print(f"devstack: {message}", flush=True)


def main() -> int:
    children: list[Child] = []
    _handle_stop_signals()
    try:
        run(Ports.from_environment(), children)
    except ShutdownRequested:
        return 0
    except StackError as error:
        print(f"\ndevstack: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_all(children)
    return 0


def run(ports: Ports, children: list[Child]) -> None:
    """Bring everything up, print the summary, then supervise until stopped or a child dies."""
    ensure_api_port_free(ports)
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    env = {
        **stage_environment(STAGE),
        **aws_environment(ports),
        **load_or_create_secrets(LOCAL_DIR / "secrets.json"),
    }
    apply_in_process(env)
    reused = set()
    if not ensure_dynamodb(ports, children):
        reused.add("dynamodb")
    if not ensure_moto(ports, env, children):
        reused.add("moto")

    resources = create_resources()
    env.update(resources.environment())
    apply_in_process(env)
    created, existing = seed_contacts()
    say(f"demo contacts: {created} created, {existing} already there")
    say(f"demo agents: {seed_agents()} created; alex is in Sales, riley in Support")
    say(f"demo quick replies and notes: {seed_quick_texts()} created")
    env["API_URL"] = ports.api_url
    env["BUSINESS_NUMBER"] = seed_business_number()
    say(f"demo business number: {env['BUSINESS_NUMBER']}")
    env["CAMPAIGN_ID"] = seed_campaign()
    say(f"demo campaign: {env['CAMPAIGN_ID']}; text SPRING to {env['BUSINESS_NUMBER']} to subscribe")
    env_file_values = {**env, **user_tokens()}
    write_env_file(ENV_FILE, env_file_values)

    start_api(ports, env, children)
    start_worker(env, children)
    report = StackReport(
        ports=ports,
        resources=resources,
        reused=frozenset(reused),
        contacts_created=created,
        contacts_existing=existing,
        env_file=_relative(ENV_FILE),
        log_dir=_relative(LOG_DIR),
    )
    print(render(report, env_file_values), flush=True)
    supervise(children)


def already_serving(port: int, endpoint: str, is_serving: Callable[[str], bool], what: str, port_var: str) -> bool:
    """True when `what` already answers on `port` (reuse it); raise when something else holds the port."""
    if not port_in_use(port):
        return False
    if is_serving(endpoint):
        say(f"{what} already answers on {endpoint}: reusing it (it will be left running)")
        return True
    raise StackError(
        f"port {port} is in use by something that does not answer as {what}.\n"
        f"Stop it, or run with {port_var}=<another port>."
    )


def ensure_dynamodb(ports: Ports, children: list[Child]) -> bool:
    """Start DynamoDB Local with data in .local/dynamodb; False when one already answers on the port."""
    endpoint = ports.dynamodb_endpoint
    if already_serving(ports.dynamodb, endpoint, dynamodb_local.is_serving, "DynamoDB", "DEVSTACK_DYNAMODB_PORT"):
        return False
    log_path = LOG_DIR / "dynamodb.log"
    offset = log_path.stat().st_size if log_path.exists() else 0
    say(f"starting DynamoDB Local on {endpoint} (first start takes a few seconds)")
    try:
        process = dynamodb_local.start(
            ports.dynamodb, data_dir=LOCAL_DIR / "dynamodb", log_path=log_path, own_session=True
        )
    except RuntimeError as error:
        raise StackError(f"{error}; see {_relative(log_path)}") from None
    children.append(Child("dynamodb", process, log_path, offset))
    return True


def ensure_moto(ports: Ports, env: dict[str, str], children: list[Child]) -> bool:
    """Start moto's server for S3, SQS and SNS; False when one already answers on the port."""
    endpoint = ports.moto_endpoint
    if already_serving(ports.moto, endpoint, moto_server.is_serving, "S3/SQS/SNS (moto)", "DEVSTACK_MOTO_PORT"):
        return False
    say(f"starting moto (S3, SQS, SNS) on {endpoint}")
    children.append(moto_server.start(ports.moto, child_environment(env), LOG_DIR / "moto.log"))
    return True


def create_resources() -> LocalResources:
    """Tables from the models, then bucket, queues, topics; and prove imports/ reaches its queue."""
    created = ensure_tables()
    say(f"tables: {', '.join(created) + ' created' if created else 'all present'}")
    session = boto3.session.Session(region_name=REGION)
    s3, sqs, sns = session.client("s3"), session.client("sqs"), session.client("sns")
    resources = ensure_resources(s3, sqs, sns)
    try:
        verify_imports_notification(s3, sqs, resources.names.bucket, resources.imports_queue_url)
    except RuntimeError as error:
        raise StackError(str(error)) from None
    say(f"bucket, queues and topics ready; s3://{resources.names.bucket}/imports/ delivers to the imports queue")
    return resources


def start_api(ports: Ports, env: dict[str, str], children: list[Child]) -> None:
    """Run `chalice local` and wait until it answers HTTP.

    Chalice's auto-reload is off: its file watcher polls the whole project
    (.venv and node_modules included) every second, and restarts the server
    whenever DynamoDB Local writes to .local/. Restart `make run` after code changes.
    """
    ensure_api_port_free(ports)
    say(f"starting chalice local on {ports.api_url}")
    chalice = str(Path(sys.executable).parent / "chalice")
    argv = [chalice, "local", "--stage", STAGE, "--host", "127.0.0.1", "--port", str(ports.api), "--no-autoreload"]
    child = spawn("api", argv, child_environment(env), LOG_DIR / "api.log", cwd=ROOT)
    children.append(child)
    wait_until(lambda: answers_http(ports.api_url + "/"), child, "chalice local", timeout=60)


def ensure_api_port_free(ports: Ports) -> None:
    """The API is always this run's own `chalice local`, so its port must be free (checked first, to fail fast)."""
    if port_in_use(ports.api):
        raise StackError(
            f"port {ports.api} is already in use (a `make run` still running elsewhere?).\n"
            f"Stop whatever listens there, or run with DEVSTACK_API_PORT=<another port>."
        )


def start_worker(env: dict[str, str], children: list[Child]) -> None:
    """Run the event worker and wait until it has found the app's event handlers."""
    say("starting the event worker")
    argv = [sys.executable, "-m", "devstack.worker"]
    child = spawn("worker", argv, child_environment(env), LOG_DIR / "worker.log", cwd=ROOT)
    children.append(child)
    wait_until(
        lambda: any(marker in child.output() for marker in WORKER_READY_MARKERS), child, "event worker", timeout=60
    )


def supervise(children: list[Child]) -> None:
    """Wait for a stop signal; a child that exits on its own takes the stack down with a message."""
    while True:
        for child in children:
            if not child.running():
                raise StackError(
                    f"{child.name} exited unexpectedly with code {child.process.returncode}; stopping everything.\n"
                    f"Last lines of {_relative(child.log_path)}:\n{child.log_tail()}"
                )
        time.sleep(1)


def stop_all(children: list[Child]) -> None:
    """Stop what this run started, newest first; never anything it merely reused."""
    if not children:
        return
    # A second Ctrl-C must not abandon children half-stopped; each stop is bounded anyway.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    say("stopping " + ", ".join(child.name for child in reversed(children)))
    for child in reversed(children):
        code = stop(child)
        say(
            f"{child.name} stopped"
            + (f" (exit code {code})" if code not in (0, None, -signal.SIGTERM, 128 + signal.SIGTERM) else "")
        )
    children.clear()


def _handle_stop_signals() -> None:
    def request_stop(signum: int, _frame: FrameType | None) -> None:
        print(flush=True)
        say(f"{signal.Signals(signum).name} received")
        raise ShutdownRequested

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
