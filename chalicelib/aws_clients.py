"""boto3 clients built on first use, with the retry policy every AWS call of ours shares.

Building a client at import would add boto3's import and endpoint resolution
to every cold start, including the many requests that never need it.
"""

from __future__ import annotations

import threading
from typing import Any

from botocore.config import Config

RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 3})
"""Three attempts in all (botocore's `max_attempts` would count retries only, i.e. four).

botocore retries throttling and 5xx itself; what fails after that is reported.
"""


class LazyClient:
    """One client per owner; boto3 clients are thread-safe, creating them is not."""

    def __init__(self, service: str, client: Any = None, config: Config = RETRIES) -> None:
        self._service = service
        self._config = config
        self._client = client
        self._lock = threading.Lock()

    def get(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3

                    self._client = boto3.session.Session().client(self._service, config=self._config)
        return self._client
