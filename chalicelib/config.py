"""Runtime settings, read from the environment at the moment they are needed.

Reading lazily (never at import) lets `chalice.test.Client` and `chalice local`
apply a stage's environment variables after the modules are loaded, and lets
infra inject real resource names without code changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Settings:
    """One snapshot of the environment; cheap to build, so build it per use."""

    stage: str
    region: str
    default_phone_region: str
    max_body_bytes: int

    @property
    def is_local(self) -> bool:
        return self.stage == "local"


def get_settings() -> Settings:
    return Settings(
        stage=os.environ.get("STAGE", "local"),
        region=aws_region(),
        default_phone_region=os.environ.get("DEFAULT_PHONE_REGION", "US").upper(),
        max_body_bytes=int(os.environ.get("MAX_BODY_BYTES", str(64 * 1024))),
    )


def aws_region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or DEFAULT_REGION


def resource_name(env_var: str) -> str:
    """Name of an AWS resource (table, bucket, queue) that the stage or infra sets."""
    try:
        return os.environ[env_var]
    except KeyError:
        raise RuntimeError(f"environment variable {env_var} is not set for this stage") from None
