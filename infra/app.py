"""CDK entry point (`cdk.json` runs it): one stack per stage, `prod` unless `-c stage=...` says otherwise.

Run from `infra/`: chalice writes its package to `./chalice.out` and CDK its
assembly to `./cdk.out`. Optional context: `-c alarmEmail=ops@example.com`
subscribes an address to the alarm topic.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk

INFRA_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = INFRA_DIR.parent


def main() -> None:
    # Infra builds tables, groups and the authorizer from the application's own code.
    if str(PROJECT_ROOT) not in sys.path:
        sys.path.append(str(PROJECT_ROOT))
    from sms_infra.stack import APP_NAME, SmsEngagementStack

    app = cdk.App()
    stage = app.node.try_get_context("stage") or "prod"
    SmsEngagementStack(
        app,
        stage,
        source_dir=PROJECT_ROOT,
        stack_name=f"{APP_NAME}-{stage}",
        alarm_email=app.node.try_get_context("alarmEmail"),
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"),
            region=os.environ.get("CDK_DEFAULT_REGION"),
        ),
    )
    app.synth()


if __name__ == "__main__":
    main()
