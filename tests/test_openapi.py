"""docs/openapi.yaml against the code, so the document cannot drift from the app.

Checked here: the routes it documents are exactly the routes the app registers;
each operation's `x-roles` is its row of `ROUTE_ROLES`; every request model in
`chalicelib/api/schemas.py` is documented with the same fields and constraints;
real response bodies validate against the response schemas; error responses
use the one error shape with statuses the app can return; the document is
valid OpenAPI 3.0. None of it touches DynamoDB.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel

from chalicelib import errors
from chalicelib.api import schemas
from chalicelib.api.access import PUBLIC, ROUTE_ROLES
from chalicelib.auth import ROLES

SPEC_PATH = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

REQUEST_MODELS = sorted(
    (
        model
        for model in vars(schemas).values()
        if inspect.isclass(model)
        and issubclass(model, BaseModel)
        and model.__module__ == schemas.__name__
        and not model.__name__.startswith("_")
    ),
    key=lambda model: model.__name__,
)
"""Every public pydantic model in schemas.py: each must be documented."""

QUERY_MODELS = {"ContactListParams": ("GET", "/contacts")}
"""Models that validate a query string, and the operation whose parameters they are.

Every other model validates a JSON body and is documented as the component
schema of the same name.
"""

COMPARED_KEYWORDS = ("type", "format", "enum", "minLength", "maxLength", "minimum", "maximum", "default", "nullable")
"""Schema keywords that must agree between a pydantic field and its documentation.

`pattern` is left out on purpose: some names are checked by the services (400)
rather than by the model, and the document states that rule too.
"""


@cache
def load_spec() -> dict[str, Any]:
    return yaml.safe_load(SPEC_PATH.read_text())


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load_spec()


def operations(spec: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


def resolve(spec: dict[str, Any], node: Any) -> Any:
    """Follow local `$ref`s until `node` is not a reference."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references are used: {ref}"
        node = spec
        for part in ref[2:].split("/"):
            node = node[part]
    return node


def inline(spec: dict[str, Any], node: Any) -> Any:
    """`node` with every reference replaced by its target (the document has no cycles)."""
    node = resolve(spec, node)
    if isinstance(node, dict):
        return {key: inline(spec, value) for key, value in node.items()}
    if isinstance(node, list):
        return [inline(spec, value) for value in node]
    return node


def component_name(ref_holder: dict[str, Any], kind: str) -> str:
    prefix = f"#/components/{kind}/"
    ref = ref_holder.get("$ref", "")
    assert ref.startswith(prefix), f"expected a reference to {prefix}..., got {ref_holder}"
    return ref[len(prefix) :]


def body_schema_ref(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    body = resolve(spec, operation["requestBody"])
    return body["content"]["application/json"]["schema"]


# --- Normal forms: pydantic's JSON schema and OpenAPI 3.0 say "nullable" differently.


def from_pydantic(node: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    variants = node.pop("anyOf", None)
    if variants is not None:
        others = [variant for variant in variants if variant != {"type": "null"}]
        assert len(others) == 1 and len(others) < len(variants), f"only `X | None` unions are mapped: {variants}"
        node.update(others[0], nullable=True)
    assert "$ref" not in node, "nested models are not mapped yet; extend from_pydantic"
    return _normal(node, from_pydantic)


def from_openapi(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    node = dict(resolve(spec, node))
    if "enum" in node:
        node["enum"] = [value for value in node["enum"] if value is not None]
    return _normal(node, lambda child: from_openapi(spec, child))


def _normal(node: dict[str, Any], recurse: Any) -> dict[str, Any]:
    out = {key: node[key] for key in COMPARED_KEYWORDS if key in node}
    if "enum" in out:
        out["enum"] = sorted(out["enum"])
    if out.get("default") is None:
        out.pop("default", None)
    if not out.get("nullable"):
        out.pop("nullable", None)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            out[key] = recurse(node[key])
    return out


# --- (a) routes


def test_documented_routes_are_exactly_the_registered_routes(app: Any, spec: dict[str, Any]) -> None:
    registered = {(method, path) for path, methods in app.routes.items() for method in methods}
    documented = set(operations(spec))
    assert not registered - documented, f"routes missing from {SPEC_PATH.name}: {sorted(registered - documented)}"
    assert not documented - registered, f"documented routes the app lacks: {sorted(documented - registered)}"


# --- (b) roles


@pytest.mark.parametrize("route", sorted(operations(load_spec())), ids=" ".join)
def test_operation_roles_match_the_access_table(spec: dict[str, Any], route: tuple[str, str]) -> None:
    operation = operations(spec)[route]
    assert route in ROUTE_ROLES, f"{route} is documented but has no row in ROUTE_ROLES"
    allowed = ROUTE_ROLES[route]
    assert set(operation.get("x-roles", ())) == set(allowed)
    if allowed == PUBLIC:
        assert operation.get("security") == [], "a public route must override the global security with []"
    else:
        assert "security" not in operation or operation["security"] == spec["security"]
        roles_line = "Roles: " + ", ".join(role for role in ROLES if role in allowed) + "."
        assert roles_line in operation.get("description", ""), f"description should say {roles_line!r}"


# --- (c) request models


def test_request_bodies_reference_a_request_model(spec: dict[str, Any]) -> None:
    model_names = {model.__name__ for model in REQUEST_MODELS}
    for route, operation in operations(spec).items():
        if "requestBody" in operation:
            name = component_name(body_schema_ref(spec, operation), "schemas")
            assert name in model_names, f"{route} body schema {name} is not a model in chalicelib/api/schemas.py"


def expected_fields(model: type[BaseModel]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Each field's schema in normal form, and the names of the required fields."""
    model_schema = model.model_json_schema()
    fields = {name: from_pydantic(prop) for name, prop in model_schema["properties"].items()}
    return fields, set(model_schema.get("required", ()))


@pytest.mark.parametrize(
    "model", [m for m in REQUEST_MODELS if m.__name__ not in QUERY_MODELS], ids=lambda model: model.__name__
)
def test_body_model_is_documented_field_by_field(spec: dict[str, Any], model: type[BaseModel]) -> None:
    fields, required = expected_fields(model)
    documented = spec["components"]["schemas"].get(model.__name__)
    assert documented is not None, f"no components/schemas/{model.__name__} for the request model"
    used_by = [
        route
        for route, operation in operations(spec).items()
        if "requestBody" in operation and component_name(body_schema_ref(spec, operation), "schemas") == model.__name__
    ]
    assert used_by, f"{model.__name__} is documented but no operation's request body uses it"
    assert set(documented["properties"]) == set(fields)
    for name, prop in documented["properties"].items():
        assert from_openapi(spec, prop) == fields[name], f"{model.__name__}.{name}"
    assert set(documented.get("required", ())) == required
    forbids_extra = model.model_config.get("extra") == "forbid"
    assert documented.get("additionalProperties", True) is (not forbids_extra)


@pytest.mark.parametrize("model_name", sorted(QUERY_MODELS))
def test_query_model_is_documented_param_by_param(spec: dict[str, Any], model_name: str) -> None:
    model = getattr(schemas, model_name)
    fields, required = expected_fields(model)
    operation = operations(spec)[QUERY_MODELS[model_name]]
    params = [resolve(spec, param) for param in operation.get("parameters", ())]
    query = {param["name"]: param for param in params if param["in"] == "query"}
    assert set(query) == set(fields)
    for name, param in query.items():
        # A query string cannot carry null: "optional" is all that nullable means here.
        field = {key: value for key, value in fields[name].items() if key != "nullable"}
        assert from_openapi(spec, param["schema"]) == field, f"query parameter {name}"
        assert bool(param.get("required")) == (name in required), f"query parameter {name}: required"


# --- responses


def schema_validator(spec: dict[str, Any], name: str) -> OAS30Validator:
    schema = inline(spec, spec["components"]["schemas"][name])
    return OAS30Validator(schema, format_checker=oas30_format_checker)


def test_contact_schema_describes_contact_view(spec: dict[str, Any]) -> None:
    from chalicelib.models import Contact
    from chalicelib.services.contacts import contact_view
    from chalicelib.services.paging import Page

    now = datetime.now(UTC)
    contact = Contact(
        "+15125550134",
        created_at=now,
        updated_at=now,
        last_message_at=now,
        first_name="Ana",
        custom={"tier": "gold", "deleted_field": "x"},
        groups={"vip"},
    )
    view = contact_view(contact, {"tier": {"name": "tier"}})
    documented = spec["components"]["schemas"]["Contact"]
    assert set(view) == set(documented["properties"]) == set(documented["required"])
    schema_validator(spec, "Contact").validate(view)
    schema_validator(spec, "Contact").validate(documented["example"])
    schema_validator(spec, "ContactList").validate(Page([view], "cursor").body())
    schema_validator(spec, "ContactList").validate(Page([], None).body())


def test_error_schema_describes_api_errors(spec: dict[str, Any]) -> None:
    validator = schema_validator(spec, "Error")
    validator.validate(errors.NotFound("no such thing").body())
    details = [{"field": "limit", "code": "greater_than_equal", "message": "too small"}]
    validator.validate(errors.ValidationFailed("limit: too small", field="limit", details=details).body())


def api_error_codes() -> dict[int, set[str]]:
    """Error codes by HTTP status: the app's own errors, and Chalice's that middleware reshapes."""
    codes: dict[int, set[str]] = {415: {"unsupported_media_type"}}
    pending = [errors.ApiError]
    while pending:
        cls = pending.pop()
        codes.setdefault(cls.status, set()).add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_error_responses_are_ones_the_app_returns(spec: dict[str, Any]) -> None:
    codes = api_error_codes()
    for route, operation in operations(spec).items():
        statuses = {int(status) for status in operation["responses"]}
        if ROUTE_ROLES.get(route) != PUBLIC:
            assert {401, 403} <= statuses, f"{route} needs its 401 and 403 responses"
        if "requestBody" in operation:
            assert {400, 413, 415} <= statuses, f"{route} reads a body: document 400, 413 and 415"
        for status in statuses:
            if status < 400:
                continue
            response = resolve(spec, operation["responses"][str(status)])
            content = response["content"]["application/json"]
            assert component_name(content["schema"], "schemas") == "Error", f"{route} {status}"
            assert status in codes, f"{route} documents {status}, which the app never returns"
            assert content["example"]["error"]["code"] in codes[status], f"{route} {status} example code"
            schema_validator(spec, "Error").validate(content["example"])


# --- the document itself


def test_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.0.3"
    validate_openapi(spec)
