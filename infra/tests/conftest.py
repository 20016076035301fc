"""Make `sms_infra` and the application's `chalicelib` importable, as `infra/app.py` does for the CDK CLI."""

from __future__ import annotations

import sys
from pathlib import Path

INFRA_DIR = Path(__file__).resolve().parents[1]
PROJECT_ROOT = INFRA_DIR.parent

for path in (INFRA_DIR, PROJECT_ROOT):
    if str(path) not in sys.path:
        sys.path.append(str(path))
