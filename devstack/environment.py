"""The environment every process of the local stack runs with, and the `.local/env` file.

Everything local lives under `.local/` (`make reset` deletes it): DynamoDB's
data, the logs, the webhook secrets and the env file a shell can source.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCAL_DIR = ROOT / ".local"
REGION = "us-east-1"

# Credentials and sessions that could point boto3 at a real AWS account; never inherited.
_REAL_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
)


@dataclass(frozen=True)
class Ports:
    """Where each service listens; the defaults are the documented ones, env vars override them."""

    dynamodb: int = 8000
    moto: int = 5000
    api: int = 8080

    @classmethod
    def from_environment(cls) -> Ports:
        return cls(
            dynamodb=int(os.environ.get("DEVSTACK_DYNAMODB_PORT", cls.dynamodb)),
            moto=int(os.environ.get("DEVSTACK_MOTO_PORT", cls.moto)),
            api=int(os.environ.get("DEVSTACK_API_PORT", cls.api)),
        )

    @property
    def dynamodb_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.dynamodb}"

    @property
    def moto_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.moto}"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api}"


def stage_environment(stage: str = "local", config_path: Path = ROOT / ".chalice/config.json") -> dict[str, str]:
    """The stage's variables exactly as Chalice applies them: global ones, then the stage's."""
    config = json.loads(config_path.read_text())
    stage_config = config.get("stages", {}).get(stage, {})
    return {**config.get("environment_variables", {}), **stage_config.get("environment_variables", {})}


def aws_environment(ports: Ports) -> dict[str, str]:
    """Endpoints and dummy credentials that keep every AWS call on this machine."""
    return {
        "AWS_ENDPOINT_URL_DYNAMODB": ports.dynamodb_endpoint,
        "AWS_ENDPOINT_URL_S3": ports.moto_endpoint,
        "AWS_ENDPOINT_URL_SQS": ports.moto_endpoint,
        "AWS_ENDPOINT_URL_SNS": ports.moto_endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
    }


def load_or_create_secrets(path: Path) -> dict[str, str]:
    """Webhook secrets, made once and then reused, so signed test requests keep working across runs."""
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        # Twilio auth tokens are 32 hex characters; the generic webhook secret has no fixed shape.
        "TWILIO_AUTH_TOKEN": lambda: secrets.token_hex(16),
        "INBOUND_WEBHOOK_SECRET": lambda: secrets.token_urlsafe(32),
    }
    missing = {name: make() for name, make in wanted.items() if not stored.get(name)}
    if missing:
        stored.update(missing)
        _write_private(path, json.dumps(stored, indent=2) + "\n")
    return {name: stored[name] for name in wanted}


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """This process's environment without real-AWS settings, plus `extra`, for a child process."""
    env = {key: value for key, value in os.environ.items() if key not in _REAL_AWS_VARIABLES}
    env.update(extra)
    env["PYTHONUNBUFFERED"] = "1"  # so the logs under .local/logs are current
    return env


def apply_in_process(values: Mapping[str, str]) -> None:
    """Make this process talk to the local services too (table creation and seeding run here)."""
    for key in _REAL_AWS_VARIABLES:
        os.environ.pop(key, None)
    os.environ.update(values)


def write_env_file(path: Path, values: Mapping[str, str]) -> None:
    """Write `KEY='value'` lines that `set -a; . .local/env; set +a` loads verbatim."""
    lines = ["# Written by `make run` (python -m devstack); load with: set -a; . .local/env; set +a"]
    for key, value in values.items():
        if not key.isidentifier():
            raise ValueError(f"not a shell variable name: {key!r}")
        lines.append(f"{key}={shlex.quote(value)}")
    _write_private(path, "\n".join(lines) + "\n")


def _write_private(path: Path, text: str) -> None:
    """Replace `path` atomically with owner-only permissions: these files hold secrets and tokens."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.replace(partial, path)
