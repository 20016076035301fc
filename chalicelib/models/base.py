"""What every table model shares: a table name and region read from the environment.

PynamoDB reads `Meta.table_name` on every call and reconnects when it changes,
so a metaclass property is enough to make names lazy. The endpoint is left to
botocore, which honours `AWS_ENDPOINT_URL_DYNAMODB` by itself.
"""

from __future__ import annotations

import os

from chalicelib.config import aws_region


class _EnvTableMeta(type):
    table_env: str

    @property
    def table_name(cls) -> str | None:
        return os.environ.get(cls.table_env)

    @property
    def region(cls) -> str:
        return aws_region()


def table_meta(env_var: str) -> type:
    """A PynamoDB `Meta` class bound to the table named by `env_var`."""
    return _EnvTableMeta(
        "Meta",
        (),
        {"table_env": env_var, "host": None, "billing_mode": "PAY_PER_REQUEST", "max_retry_attempts": 5},
    )
