"""What every benchmark script shares: the project on the import path and the local stage's environment.

Scripts run as `python benchmarks/<name>.py`, so this folder is on the path and
they import this module as `harness`, before anything from the project.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def configure(endpoint: str) -> None:
    """The local stage's variables, pointed at the DynamoDB Local at `endpoint`, with quiet logs."""
    config = json.loads((ROOT / ".chalice/config.json").read_text())
    os.environ.update({**config["environment_variables"], **config["stages"]["local"]["environment_variables"]})
    os.environ.update(
        {
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "POWERTOOLS_LOG_LEVEL": "WARNING",
        }
    )
