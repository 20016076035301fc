"""Embedding the Chalice app: packaging it safely and fixing up the SAM template it produces.

`chalice package` knows nothing about the resources infra owns, so after
packaging the stack patches its template; the pieces that decide what to
patch live here:

* the Cognito authorizer's provider ARN (the code carries a placeholder);
* event sources: the app names queues and topics by a short logical name
  (`@app.on_sqs_message(queue="imports")`) and infra points them at the real
  ARNs;
* logging: each function writes to a log group infra creates, so the role can
  be limited to exactly those groups.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from chalice.cdk import Chalice

FUNCTION_TYPE = "AWS::Serverless::Function"
REST_API_ID = "RestAPI"
"""Logical id chalice gives the REST API in every SAM template."""
COGNITO_AUTHORIZER = "cognito_user_pools"
_AUTHORIZER_KEY = "x-amazon-apigateway-authorizer"


@contextmanager
def isolated_packaging(source_dir: Path, region: str) -> Iterator[None]:
    """Let chalice package the app in this process without leaving traces in it.

    Packaging imports the app, as Lambda would: chalice copies the stage's
    environment variables into `os.environ`, puts the project on `sys.path`
    and imports `app`. The import must be fresh (re-running `app.py` against
    blueprint modules that are already imported registers their routes twice
    and fails), and it must come from `source_dir` (not `infra/app.py`, not
    another copy of the project). So the project's modules are set aside for
    the import and put back afterwards, together with the environment and
    `sys.path`: a synth inside the test session cannot change what later
    tests see. Chalice also needs a region to name the API Gateway service
    principal; any region of the partition gives the same answer, so the
    stack's region (or a default) will do.
    """
    names = _top_level_modules(source_dir)
    saved_modules = _pop_modules(names)
    saved_environ = dict(os.environ)
    saved_path = list(sys.path)
    sys.path.insert(0, str(source_dir))
    if not (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")):
        os.environ["AWS_DEFAULT_REGION"] = region
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_environ)
        sys.path[:] = saved_path
        _pop_modules(names)
        sys.modules.update(saved_modules)


def _top_level_modules(source_dir: Path) -> set[str]:
    """`app` and every top-level module or package of the project."""
    names = {"app"}
    for entry in source_dir.iterdir():
        if entry.suffix == ".py":
            names.add(entry.stem)
        elif (entry / "__init__.py").is_file():
            names.add(entry.name)
    return names


def _pop_modules(top_level: set[str]) -> dict[str, ModuleType]:
    popped = {name: module for name, module in sys.modules.items() if name.split(".")[0] in top_level}
    for name in popped:
        del sys.modules[name]
    return popped


def packaged_template(api: Chalice) -> dict[str, Any]:
    """The SAM template chalice generated, as plain JSON.

    The construct keeps it only on disk. Its `aws_sam` L1 accessors cannot
    deserialize union-typed properties such as a function's `Events` (jsii
    fails), so the JSON file is the reliable way to see what chalice built.
    """
    return json.loads((Path(api._sam_package_dir) / "sam.json").read_text())


def function_ids(template: Mapping[str, Any]) -> list[str]:
    """Logical ids of every Lambda function in the package, API handler and event handlers alike."""
    return sorted(name for name, resource in template["Resources"].items() if resource["Type"] == FUNCTION_TYPE)


def placeholder_authorizers(definition: Mapping[str, Any], placeholder_arn: str) -> list[str]:
    """Names of the swagger security definitions whose user pool is the code's placeholder."""
    names = []
    for name, security in definition.get("securityDefinitions", {}).items():
        authorizer = security.get(_AUTHORIZER_KEY, {})
        if authorizer.get("type") == COGNITO_AUTHORIZER and placeholder_arn in authorizer.get("providerARNs", []):
            names.append(name)
    return names


def authorizer_overrides(definition: Mapping[str, Any], placeholder_arn: str, pool_arn: str) -> dict[str, Any]:
    """Property overrides that point every placeholder authorizer at the real user pool.

    Failing loudly when there is none catches a renamed placeholder before an
    API without working sign-in is deployed.
    """
    names = placeholder_authorizers(definition, placeholder_arn)
    if not names:
        raise ValueError(f"no Cognito authorizer in the packaged API uses the placeholder pool {placeholder_arn}")
    return {f"DefinitionBody.securityDefinitions.{name}.{_AUTHORIZER_KEY}.providerARNs": [pool_arn] for name in names}


def event_source_overrides(
    events: Mapping[str, Any], queue_arns: Mapping[str, str], topic_arns: Mapping[str, str]
) -> dict[str, Any]:
    """Property overrides that connect a function's SQS and SNS events to the resources infra owns.

    Chalice turns `queue="imports"` into the ARN of a queue literally named
    `imports` in the deploying account; we replace it with the ARN of the
    queue infra created for that logical name. SQS events also get
    `ReportBatchItemFailures`, so Powertools' partial batch responses retry
    only the failed messages. Events given a full ARN in code are left alone.
    """
    overrides: dict[str, Any] = {}
    for event_id, event in events.items():
        properties = event.get("Properties", {})
        prefix = f"Events.{event_id}.Properties"
        if event.get("Type") == "SQS":
            name = _logical_name(properties.get("Queue"))
            if name is not None:
                overrides[f"{prefix}.Queue"] = _known(queue_arns, name, "queue")
                overrides[f"{prefix}.FunctionResponseTypes"] = ["ReportBatchItemFailures"]
        elif event.get("Type") == "SNS":
            name = _logical_name(properties.get("Topic"))
            if name is not None:
                overrides[f"{prefix}.Topic"] = _known(topic_arns, name, "topic")
    return overrides


def consumed_queues(events: Mapping[str, Any]) -> set[str]:
    """The logical names of the queues infra owns that a function's events consume."""
    names = {
        _logical_name(event.get("Properties", {}).get("Queue"))
        for event in events.values()
        if event.get("Type") == "SQS"
    }
    return {name for name in names if name is not None}


def _logical_name(arn: Any) -> str | None:
    """`{"Fn::Sub": "arn:${AWS::Partition}:sqs:...:imports"}` -> `imports`; a literal ARN -> None."""
    if isinstance(arn, Mapping) and isinstance(arn.get("Fn::Sub"), str):
        return arn["Fn::Sub"].rsplit(":", 1)[-1]
    return None


def _known(arns: Mapping[str, str], name: str, kind: str) -> str:
    try:
        return arns[name]
    except KeyError:
        raise ValueError(f"the app subscribes to {kind} {name!r}, but infra only owns {sorted(arns)}") from None
