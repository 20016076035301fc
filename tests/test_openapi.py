"""docs/openapi.yaml against the code, so the document cannot drift from the app.

Checked here: the routes it documents are exactly the routes the app registers;
each operation's `x-roles` is its row of `ROUTE_ROLES`; every request model in
`chalicelib/api/schemas.py` is documented with the same fields and constraints
(as a body, a nested item schema or a query string); each documented body
takes the media types its route accepts, and the Twilio form fields marked
required are exactly the ones the webhook refuses to do without; real
response bodies validate against the response schemas, which name every
property they carry; error responses use the one error shape with statuses
and codes the app can return; the document is valid OpenAPI 3.0.

The schema comparisons touch no database. The tests that call routes for real
responses run the app against the suite's DynamoDB Local, like the API tests.
"""

from __future__ import annotations

import csv
import inspect
import io
import json
import time
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import yaml
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate as validate_openapi
from pydantic import BaseModel

from chalicelib import errors
from chalicelib.api import schemas
from chalicelib.api.access import PUBLIC, ROUTE_ROLES
from chalicelib.auth import ROLES
from chalicelib.signatures import inbound_signature, twilio_signature
from tests.conftest import BUSINESS_NUMBER, INBOUND_WEBHOOK_SECRET, TEST_API_URL, TWILIO_AUTH_TOKEN, Api, Bucket

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

MODEL_NAMES = frozenset(model.__name__ for model in REQUEST_MODELS)

QUERY_MODELS = {
    "ContactListParams": ("GET", "/contacts"),
    "ConversationListParams": ("GET", "/conversations"),
    "OptOutListParams": ("GET", "/optouts"),
    "OptInParams": ("DELETE", "/optouts/{number}"),
    "SubscriberListParams": ("GET", "/campaigns/{campaign_id}/subscribers"),
    "GroupMemberListParams": ("GET", "/groups/{group_id}/members"),
    "BroadcastListParams": ("GET", "/broadcasts"),
    "OutboxParams": ("GET", "/dev/outbox"),
}
"""Models that validate a query string, and the operation whose parameters they are.

Every other model validates a JSON body, or an item nested in one (`MediaItem`),
and is documented as the component schema of the same name.
"""

BODILESS_ACTIONS = frozenset(
    {
        ("POST", "/conversations/{conversation_id}/claim"),
        ("POST", "/conversations/{conversation_id}/close"),
        ("POST", "/conversations/{conversation_id}/optout"),
        ("POST", "/conversations/{conversation_id}/optout/dismiss"),
        ("POST", "/groups/{group_id}/refresh"),
        ("POST", "/broadcasts/{broadcast_id}/cancel"),
    }
)
"""POST routes that read no body: the path names the action and its target.

Documented without a request body (hence without 413 and 415); the response
tests call them with none.
"""

FORM = "application/x-www-form-urlencoded"

COMPARED_KEYWORDS = (
    "type",
    "format",
    "enum",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "default",
    "nullable",
)
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


def body_content(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    return resolve(spec, operation["requestBody"])["content"]


def body_schema_ref(spec: dict[str, Any], operation: dict[str, Any]) -> dict[str, Any]:
    return body_content(spec, operation)["application/json"]["schema"]


def json_body_model(spec: dict[str, Any], operation: dict[str, Any]) -> str | None:
    """The request model an operation's JSON body is, if it takes one."""
    if "requestBody" not in operation or "application/json" not in body_content(spec, operation):
        return None
    return component_name(body_schema_ref(spec, operation), "schemas")


# --- Normal forms: pydantic's JSON schema and OpenAPI 3.0 say "nullable" differently.
# A nested model is compared by name ({"$model": name}) on both sides; the
# nested model's own schema is then compared field by field like any other.
# An optional nested model (`X | None`) is `allOf: [$ref]` with `nullable: true`
# in the document, since OpenAPI 3.0 ignores the siblings of a `$ref`. A
# one-value `Literal` is pydantic's `const`, which OpenAPI 3.0 writes as an
# `enum` of one value.


def from_pydantic(node: dict[str, Any]) -> dict[str, Any]:
    node = dict(node)
    variants = node.pop("anyOf", None)
    if variants is not None:
        others = [variant for variant in variants if variant != {"type": "null"}]
        assert len(others) == 1 and len(others) < len(variants), f"only `X | None` unions are mapped: {variants}"
        node.update(others[0], nullable=True)
    if "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/$defs/"), ref
        return {"$model": ref.removeprefix("#/$defs/"), **({"nullable": True} if node.get("nullable") else {})}
    if "const" in node:
        node["enum"] = [node.pop("const")]
    return _normal(node, from_pydantic)


def from_openapi(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    ref = node.get("$ref", "")
    if ref.startswith("#/components/schemas/") and ref.removeprefix("#/components/schemas/") in MODEL_NAMES:
        return {"$model": ref.removeprefix("#/components/schemas/")}
    node = dict(resolve(spec, node))
    parts = node.get("allOf", ())
    if len(parts) == 1 and parts[0].get("$ref", "").removeprefix("#/components/schemas/") in MODEL_NAMES:
        nested = from_openapi(spec, parts[0])
        return {**nested, **({"nullable": True} if node.get("nullable") else {})}
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


def test_request_bodies_match_the_routes(app: Any, spec: dict[str, Any]) -> None:
    """JSON bodies are request models; form bodies (Twilio's) are schemas of their own."""
    for (method, path), operation in operations(spec).items():
        route = (method, path)
        if route in BODILESS_ACTIONS:
            assert "requestBody" not in operation, f"{route} reads no body"
        elif method in ("POST", "PUT", "PATCH"):
            assert "requestBody" in operation, f"{route} reads a body: document it"
        if "requestBody" not in operation:
            continue
        content = body_content(spec, operation)
        accepted = app.routes[path][method].content_types
        assert set(content) == set(accepted), f"{route} body media types: the route accepts {accepted}"
        for media_type, media in content.items():
            name = component_name(media["schema"], "schemas")
            if media_type == "application/json":
                assert name in MODEL_NAMES, f"{route} body schema {name} is not a model in chalicelib/api/schemas.py"
            else:
                assert name not in MODEL_NAMES, f"{route}: a request model is a JSON body, not {media_type}"
                assert spec["components"]["schemas"][name]["type"] == "object", f"{route} {media_type} fields"


def expected_fields(model: type[BaseModel]) -> tuple[dict[str, dict[str, Any]], set[str]]:
    """Each field's schema in normal form, and the names of the required fields."""
    model_schema = model.model_json_schema()
    fields = {name: from_pydantic(prop) for name, prop in model_schema["properties"].items()}
    for name, field in model.model_fields.items():
        if field.default_factory is not None:  # pydantic leaves these defaults out of its schema
            fields[field.alias or name]["default"] = field.default_factory()  # type: ignore[call-arg]
    return fields, set(model_schema.get("required", ()))


@pytest.mark.parametrize(
    "model", [m for m in REQUEST_MODELS if m.__name__ not in QUERY_MODELS], ids=lambda model: model.__name__
)
def test_body_model_is_documented_field_by_field(spec: dict[str, Any], model: type[BaseModel]) -> None:
    fields, required = expected_fields(model)
    documented = spec["components"]["schemas"].get(model.__name__)
    assert documented is not None, f"no components/schemas/{model.__name__} for the request model"
    used_by = [
        route for route, operation in operations(spec).items() if json_body_model(spec, operation) == model.__name__
    ]
    nested_in = [
        other.__name__ for other in REQUEST_MODELS if model.__name__ in other.model_json_schema().get("$defs", {})
    ]
    # A nested model's place in its parents is checked with the parents' fields ({"$model": name}).
    assert used_by or nested_in, f"{model.__name__} is documented but no request body uses it, directly or nested"
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


def closed(node: dict[str, Any]) -> dict[str, Any]:
    """An inlined schema with every object closed: a property it does not name fails validation.

    `allOf` parts are merged into one object first (closing each part would
    refuse the others' properties). An explicit `additionalProperties` stays.
    """
    node = dict(node)
    for part in node.pop("allOf", ()):
        assert part.get("type", "object") == "object", f"allOf of objects only: {part}"
        node.setdefault("type", "object")
        node["properties"] = {**node.get("properties", {}), **part.get("properties", {})}
        node["required"] = [*node.get("required", ()), *part.get("required", ())]
    if "properties" in node:
        node["properties"] = {name: closed(prop) for name, prop in node["properties"].items()}
        node.setdefault("additionalProperties", False)
    for key in ("items", "additionalProperties"):
        if isinstance(node.get(key), dict):
            node[key] = closed(node[key])
    for key in ("oneOf", "anyOf"):
        if key in node:
            node[key] = [closed(variant) for variant in node[key]]
    return node


def validator_for(spec: dict[str, Any], schema: dict[str, Any]) -> OAS30Validator:
    return OAS30Validator(closed(inline(spec, schema)), format_checker=oas30_format_checker)


def schema_validator(spec: dict[str, Any], name: str) -> OAS30Validator:
    return validator_for(spec, spec["components"]["schemas"][name])


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


def test_error_schema_describes_api_errors(app: Any, spec: dict[str, Any]) -> None:
    from chalicelib.services.agent_messages import ConversationExists

    validator = schema_validator(spec, "Error")
    validator.validate(errors.NotFound("no such thing").body())
    details = [{"field": "limit", "code": "greater_than_equal", "message": "too small"}]
    validator.validate(errors.ValidationFailed("limit: too small", field="limit", details=details).body())
    exists = ConversationExists("already open", field="contact_number", extra={"conversation_id": "conv_1"})
    validator.validate(exists.body())


def api_error_codes() -> dict[int, set[str]]:
    """Error codes by HTTP status: the app's own errors, and Chalice's that middleware reshapes.

    Subclasses are found once their modules are imported: callers take the
    `app` fixture, which imports every module a route can reach.
    """
    codes: dict[int, set[str]] = {415: {"unsupported_media_type"}}
    pending = [errors.ApiError]
    while pending:
        cls = pending.pop()
        codes.setdefault(cls.status, set()).add(cls.code)
        pending.extend(cls.__subclasses__())
    return codes


def test_error_codes_include_the_services_own(app: Any) -> None:
    codes = api_error_codes()
    assert {"conversation_exists", "conversation_closed", "recipient_opted_out"} <= codes[409]


def test_description_lists_every_error_code(app: Any, spec: dict[str, Any]) -> None:
    description = spec["info"]["description"]
    raised = {code for statuses in api_error_codes().values() for code in statuses} - {errors.ApiError.code}
    missing = sorted(code for code in raised if f"`{code}`" not in description)
    assert not missing, f"info.description should list these error codes: {missing}"


def response_examples(content: dict[str, Any]) -> list[Any]:
    if "example" in content:
        return [content["example"]]
    return [example["value"] for example in content.get("examples", {}).values()]


def test_error_responses_are_ones_the_app_returns(app: Any, spec: dict[str, Any]) -> None:
    codes = api_error_codes()
    for route, operation in operations(spec).items():
        statuses = {int(status) for status in operation["responses"]}
        public = ROUTE_ROLES.get(route) == PUBLIC
        body = "requestBody" in operation
        if public:
            assert 403 in statuses, f"{route} is public: document the 403 for a refused signature"
            assert 401 not in statuses, f"{route} is public: it never asks for a user token"
        else:
            assert {401, 403} <= statuses, f"{route} needs its 401 and 403 responses"
        if body:
            assert 415 in statuses, f"{route} reads a body: document 415"
        if json_body_model(spec, operation) is not None:
            assert 400 in statuses, f"{route} validates a body: document 400"
        # Only bodies read through parse_body have the size limit; webhooks read theirs raw to check signatures.
        assert (413 in statuses) == (body and not public), f"{route}: 413 iff a user route reads a body"
        for status in statuses:
            if status < 400:
                continue
            response = resolve(spec, operation["responses"][str(status)])
            assert set(response["content"]) == {"application/json"}, f"{route} {status}: errors are JSON"
            content = response["content"]["application/json"]
            assert component_name(content["schema"], "schemas") == "Error", f"{route} {status}"
            assert status in codes, f"{route} documents {status}, which the app never returns"
            examples = response_examples(content)
            assert examples, f"{route} {status}: give an example"
            for example in examples:
                assert example["error"]["code"] in codes[status], f"{route} {status} example code"
                schema_validator(spec, "Error").validate(example)


def test_schema_examples_are_valid(spec: dict[str, Any]) -> None:
    for name, schema in spec["components"]["schemas"].items():
        if "example" in schema:
            schema_validator(spec, name).validate(schema["example"])


# --- real responses of the routes, against the documented response for their status

ANA = "+15125550134"


def documented_body(spec: dict[str, Any], route: tuple[str, str], response: Any) -> Any:
    """The response's body, after checking it is what `route` documents for its status."""
    status = str(response.status_code)
    documented = operations(spec)[route]["responses"]
    assert status in documented, f"{route} answered {status}, which is not documented: {response.body[:300]!r}"
    content = resolve(spec, documented[status]).get("content")
    if not content:
        assert not response.body, f"{route} {status} documents no body"
        return None
    # A handler that returns Response(body=dict) sets no Content-Type; API Gateway then says application/json.
    media_type = response.headers.get("Content-Type", "application/json").split(";")[0].strip()
    assert media_type in content, f"{route} {status} answered {media_type}, documented {sorted(content)}"
    body = json.loads(response.body) if media_type == "application/json" else response.body.decode()
    validator_for(spec, content[media_type]["schema"]).validate(body)
    return body


class User:
    """One user calling documented routes; each answer is checked against the document."""

    def __init__(self, spec: dict[str, Any], api: Api) -> None:
        self.spec = spec
        self.api = api

    def __call__(self, method: str, route: str, status: int, path: str | None = None, body: Any = None) -> Any:
        response = self.api.request(method, path or route, body)
        assert response.status_code == status, (method, path or route, response.status_code, response.body)
        return documented_body(self.spec, (method, route), response)


@pytest.fixture
def agent(spec: dict[str, Any], as_agent: Api) -> User:
    return User(spec, as_agent)


@pytest.fixture
def supervisor(spec: dict[str, Any], as_supervisor: Api) -> User:
    return User(spec, as_supervisor)


@pytest.fixture
def admin(spec: dict[str, Any], as_admin: Api) -> User:
    return User(spec, as_admin)


def test_business_number_responses(spec: dict[str, Any], business: Any, admin: User, agent: User) -> None:
    created = admin("POST", "/business-numbers", 201, body={"number": "(512) 555-0199", "name": "Acme Support"})
    assert created["number"] == "+15125550199"
    admin("POST", "/business-numbers", 201, body={"number": "12345", "name": "Promo", "kind": "short_code"})
    error = admin("POST", "/business-numbers", 409, body={"number": "5125550199", "name": "again"})
    assert error["error"]["code"] == "conflict"
    admin("POST", "/business-numbers", 400, body={"number": "123", "name": "x"})
    route = "/business-numbers/{number}"
    campaign = {"name": "Spring", "business_number": "+15125550199", "welcome_text": "hi"}
    spring = admin("POST", "/campaigns", 201, body=campaign)
    changes = {"appended_message": "Acme: STOP", "mps": 5, "optout_scope": "campaign", "campaign_id": spring["id"]}
    changed = admin("PATCH", route, 200, "/business-numbers/15125550199", changes)
    assert (changed["mps"], changed["campaign_id"]) == (5, spring["id"])
    spanish = admin("PATCH", route, 200, "/business-numbers/15125550199", {"optout_text_es": "Acme: baja confirmada."})
    assert spanish["optout_text_es"] == "Acme: baja confirmada."
    cleared = admin(
        "PATCH",
        route,
        200,
        "/business-numbers/15125550199",
        {"appended_message": None, "mps": None, "optout_text_es": None},
    )
    assert (cleared["appended_message"], cleared["mps"], cleared["optout_text_es"]) == (None, 1, None)
    admin("PATCH", route, 400, "/business-numbers/15125550199", {"optout_text_es": ""})
    admin("PATCH", route, 404, "/business-numbers/15125550198", {"name": "x"})
    admin("PATCH", route, 400, "/business-numbers/12345", {"optout_scope": "campaign"})
    agent("PATCH", route, 403, "/business-numbers/12345", {"name": "x"})
    listed = agent("GET", "/business-numbers", 200)
    assert len(listed["items"]) == 3


def test_agent_responses(spec: dict[str, Any], admin: User, supervisor: User, agent: User) -> None:
    alex = admin("POST", "/agents", 201, body={"username": "alex", "name": "Alex Kim", "role": "agent"})
    assert alex["groups"] == []
    admin("POST", "/agents", 201, body={"username": "riley", "name": "Riley", "role": "agent"})
    admin("POST", "/agents", 409, body={"username": "alex", "name": "Again", "role": "agent"})
    admin("POST", "/agents", 400, body={"username": "alex", "name": "Alex", "role": "owner"})
    supervisor("POST", "/agents", 403, body={"username": "sam", "name": "Sam", "role": "supervisor"})
    route = "/agents/{username}"
    assert admin("PATCH", route, 200, "/agents/riley", {"active": False})["active"] is False
    admin("PATCH", route, 404, "/agents/nobody", {"name": "x"})
    admin("PATCH", route, 400, "/agents/alex", {"role": None})
    assert len(agent("GET", "/agents", 200)["items"]) == 2

    group = supervisor("POST", "/agent-groups", 201, body={"name": "Sales", "members": ["alex"]})
    supervisor("POST", "/agent-groups", 409, body={"name": "sales"})
    supervisor("POST", "/agent-groups", 400, body={"name": "Support", "members": ["riley"]})
    many = [f"a{i}" for i in range(50)]
    supervisor("POST", "/agent-groups", 422, body={"name": "Support", "members": many})
    agent("POST", "/agent-groups", 403, body={"name": "Mine"})
    one = "/agent-groups/{group_id}"
    path = f"/agent-groups/{group['id']}"
    assert agent("GET", one, 200, path)["members"] == ["alex"]
    agent("GET", one, 404, "/agent-groups/grp_missing")
    assert supervisor("PATCH", one, 200, path, {"name": "Inside sales"})["name"] == "Inside sales"
    supervisor("PATCH", one, 404, "/agent-groups/grp_missing", {"name": "x"})
    supervisor("PATCH", one, 422, path, {"members": many})
    members = one + "/members"
    supervisor("POST", members, 400, path + "/members", {"username": "riley"})
    supervisor("POST", members, 404, "/agent-groups/grp_missing/members", {"username": "alex"})
    assert supervisor("POST", members, 200, path + "/members", {"username": "alex"})["members"] == ["alex"]
    member = members + "/{username}"
    assert supervisor("DELETE", member, 200, path + "/members/alex")["members"] == []
    supervisor("DELETE", member, 404, path + "/members/alex")
    assert len(agent("GET", "/agent-groups", 200)["items"]) == 1
    supervisor("DELETE", one, 204, path)
    supervisor("DELETE", one, 404, path)


def test_conversation_responses(spec: dict[str, Any], business: Any, agent: User, supervisor: User) -> None:
    from chalicelib.services import conversations

    media = [{"url": "s3://test-bucket/media/a.jpg", "content_type": "image/jpeg"}]
    first = {"business_number": BUSINESS_NUMBER, "contact_number": "(512) 555-0134", "body": "Hi :tada:"}
    started = agent("POST", "/conversations", 201, body={**first, "media": media})
    conversation_id = started["conversation"]["id"]
    assert started["message"]["media"] == media
    exists = agent("POST", "/conversations", 409, body=first)
    assert exists["error"] == {**exists["error"], "code": "conversation_exists", "conversation_id": conversation_id}
    agent("POST", "/conversations", 404, body={**first, "business_number": "+15125550199"})
    agent("POST", "/conversations", 400, body={**first, "contact_number": "5125550136", "media": [{"url": ""}]})

    route = "/conversations/{conversation_id}"
    messages = f"/conversations/{conversation_id}/messages"
    agent("POST", route + "/messages", 201, messages, {"body": "", "media": media})
    agent("POST", route + "/messages", 400, messages, {"body": "x" * 1601})
    agent("POST", route + "/messages", 404, "/conversations/conv_missing/messages", {"body": "hi"})
    thread = agent("GET", route, 200, f"/conversations/{conversation_id}")
    assert [m["direction"] for m in thread["messages"]] == ["event", "outbound", "outbound"]
    agent("GET", route, 404, "/conversations/conv_missing")
    listed = agent("GET", "/contacts/{number}/conversations", 200, f"/contacts/{quote(ANA)}/conversations")
    assert [c["id"] for c in listed["items"]] == [conversation_id]
    agent("GET", "/contacts/{number}/conversations", 400, "/contacts/123/conversations")

    supervisor("POST", "/optouts", 200, body={"numbers": [ANA], "reason": "asked by phone"})
    refused = agent("POST", route + "/messages", 409, messages, {"body": "still there?"})
    assert refused["error"]["code"] == "recipient_opted_out"
    conversations.close(conversation_id, "ada")
    assert agent("POST", "/conversations", 409, body=first)["error"]["code"] == "recipient_opted_out"
    closed_reply = agent("POST", route + "/messages", 409, messages, {"body": "hello?"})
    assert closed_reply["error"]["code"] == "conversation_closed"
    closed_thread = agent("GET", route, 200, f"/conversations/{conversation_id}")
    assert closed_thread["status"] == "closed" and closed_thread["closed_at"] is not None
    assert closed_thread["closed_by"] == "ada"


def test_quick_text_responses(spec: dict[str, Any], supervisor: User, admin: User, agent: User) -> None:
    for path, kind in (("/quick-notes", "quick_note"), ("/quick-replies", "quick_reply")):
        one = path + "/{text_id}"
        text = supervisor("POST", path, 201, body={"title": "Greeting", "text": "Hi {first_name|there}!"})
        assert text["id"].startswith(kind)
        admin("POST", path, 400, body={"title": "", "text": "x"})
        agent("POST", path, 403, body={"title": "Mine", "text": "x"})
        assert [t["id"] for t in agent("GET", path, 200)["items"]] == [text["id"]]
        changed = supervisor("PATCH", one, 200, f"{path}/{text['id']}", {"title": "Hello"})
        assert (changed["title"], changed["text"]) == ("Hello", "Hi {first_name|there}!")
        supervisor("PATCH", one, 400, f"{path}/{text['id']}", {"title": None})
        supervisor("PATCH", one, 404, f"{path}/{kind}_missing", {"title": "x"})
        agent("PATCH", one, 403, f"{path}/{text['id']}", {"title": "x"})
        agent("DELETE", one, 403, f"{path}/{text['id']}")
        supervisor("DELETE", one, 204, f"{path}/{text['id']}")
        supervisor("DELETE", one, 404, f"{path}/{text['id']}")
        assert agent("GET", path, 200)["items"] == []

    unknown = supervisor("POST", "/quick-replies", 400, body={"title": "Bad", "text": "Hi {frist_name}, {city|}"})
    assert unknown["error"]["details"] == [{"field": "text", "placeholder": "frist_name", "position": 3}]
    reply = supervisor("POST", "/quick-replies", 201, body={"title": "Hi", "text": "Hi {first_name|there}"})
    bad_change = supervisor("PATCH", "/quick-replies/{text_id}", 400, f"/quick-replies/{reply['id']}", {"text": "{x}"})
    assert bad_change["error"]["details"][0]["placeholder"] == "x"
    note = supervisor("POST", "/quick-notes", 201, body={"title": "Braces", "text": "Not a {placeholder}"})
    assert note["text"] == "Not a {placeholder}"


def test_inbox_responses(
    spec: dict[str, Any], business: Any, spy: Any, admin: User, supervisor: User, agent: User
) -> None:
    from chalicelib.services import inbound

    admin("POST", "/contacts", 201, body={"number": ANA, "first_name": "Ana"})
    for username in ("alex", "riley"):
        admin("POST", "/agents", 201, body={"username": username, "name": username.title(), "role": "agent"})
    sales = supervisor("POST", "/agent-groups", 201, body={"name": "Sales", "members": ["riley"]})["id"]
    opened = [
        inbound.receive(inbound.InboundSms("twilio", f"SM{i}", number, BUSINESS_NUMBER, "Are you open today?"))
        for i, number in enumerate((ANA, "+15125550135"))
    ]
    ana, other = (result["conversation_id"] for result in opened)

    inbox = agent("GET", "/conversations", 200)
    assert [c["id"] for c in inbox["items"]] == [other, ana] and inbox["next_cursor"] is None
    first = agent("GET", "/conversations", 200, "/conversations?sort=contact&limit=1&unread=true")
    assert [(c["id"], c["contact_name"]) for c in first["items"]] == [(ana, "Ana")]
    rest = agent(
        "GET", "/conversations", 200, f"/conversations?sort=contact&limit=1&unread=true&cursor={first['next_cursor']}"
    )
    assert [c["id"] for c in rest["items"]] == [other] and rest["next_cursor"] is None
    found = agent("GET", "/conversations", 200, f"/conversations?q=ANA&business_number={quote(BUSINESS_NUMBER)}")
    assert [c["id"] for c in found["items"]] == [ana]
    assert [c["id"] for c in agent("GET", "/conversations", 200, "/conversations?q=550135")["items"]] == [other]
    agent("GET", "/conversations", 400, "/conversations?q=--")
    agent("GET", "/conversations", 400, "/conversations?limit=101")
    agent("GET", "/conversations", 400, f"/conversations?view=closed&cursor={first['next_cursor']}")
    refused = agent("GET", "/conversations", 403, "/conversations?view=all_open")
    assert refused["error"]["field"] == "view"
    assert len(supervisor("GET", "/conversations", 200, "/conversations?view=all_open")["items"]) == 2

    conversation = "/conversations/{conversation_id}"
    at = f"/conversations/{ana}"
    agent("POST", conversation + "/transfer", 403, at + "/transfer", {"agent": "riley"})
    claimed = agent("POST", conversation + "/claim", 200, at + "/claim")
    assert (claimed["assigned_agent"], claimed["unread"]) == ("alex", True)
    assert agent("POST", conversation + "/claim", 200, at + "/claim")["assigned_agent"] == "alex"
    taken = supervisor("POST", conversation + "/claim", 409, at + "/claim")
    assert taken["error"]["code"] == "already_claimed"
    agent("POST", conversation + "/claim", 404, "/conversations/conv_missing/claim")

    quick_note = supervisor("POST", "/quick-notes", 201, body={"title": "Callback", "text": "Call back Friday"})
    quick_reply = supervisor("POST", "/quick-replies", 201, body={"title": "Hi", "text": "Hi {first_name|there}"})
    note = agent("POST", conversation + "/notes", 201, at + "/notes", {"quick_note": quick_note["id"]})
    assert (note["direction"], note["body"], note["status"], note["sender"]) == (
        "note",
        "Call back Friday",
        None,
        "alex",
    )
    agent("POST", conversation + "/notes", 201, at + "/notes", {"body": "VIP"})
    agent("POST", conversation + "/notes", 400, at + "/notes", {"body": "x", "quick_note": quick_note["id"]})
    agent("POST", conversation + "/notes", 400, at + "/notes", {"body": "  "})
    agent("POST", conversation + "/notes", 404, at + "/notes", {"quick_note": "quick_note_missing"})
    agent("POST", conversation + "/notes", 404, "/conversations/conv_missing/notes", {"body": "x"})
    messages = conversation + "/messages"
    sent = agent("POST", messages, 201, at + "/messages", {"quick_reply": quick_reply["id"]})
    assert sent["body"].startswith("Hi Ana\n")
    agent("POST", messages, 400, at + "/messages", {"body": "x", "quick_reply": quick_reply["id"]})
    agent("POST", messages, 404, at + "/messages", {"quick_reply": "quick_reply_missing"})
    started = agent(
        "POST",
        "/conversations",
        201,
        body={"business_number": BUSINESS_NUMBER, "contact_number": "+15125550136", "quick_reply": quick_reply["id"]},
    )
    assert started["message"]["body"].startswith("Hi there\n")
    assert started["conversation"]["assigned_agent"] == "alex"
    assert [m.body for m in spy.sent] == [sent["body"], started["message"]["body"]]

    transfer = conversation + "/transfer"
    supervisor("POST", transfer, 400, at + "/transfer", {})
    supervisor("POST", transfer, 400, at + "/transfer", {"agent": "alex", "group": sales})
    supervisor("POST", transfer, 404, at + "/transfer", {"agent": "nobody"})
    supervisor("POST", transfer, 404, at + "/transfer", {"group": "grp_missing"})
    moved = agent("POST", transfer, 200, at + "/transfer", {"agent": "riley", "group": sales})
    assert (moved["assigned_agent"], moved["assigned_group"]) == ("riley", sales)
    agent("GET", conversation, 404, at)
    agent("POST", transfer, 404, at + "/transfer", {"agent": "alex"})

    close = conversation + "/close"
    closed = supervisor("POST", close, 200, at + "/close")
    assert (closed["status"], closed["closed_by"]) == ("closed", "sam")
    again = supervisor("POST", close, 409, at + "/close")
    assert again["error"]["code"] == "conversation_closed"
    supervisor("POST", close, 404, "/conversations/conv_missing/close")
    assert supervisor("POST", conversation + "/claim", 409, at + "/claim")["error"]["code"] == "conversation_closed"
    supervisor("POST", transfer, 409, at + "/transfer", {"agent": "alex"})
    supervisor("POST", conversation + "/notes", 409, at + "/notes", {"body": "late"})

    thread = agent("GET", conversation, 200, at)
    events = [(m["event"], m["sender"], m["details"]) for m in thread["messages"] if m["direction"] == "event"]
    assert events == [
        ("opened", ANA, None),
        ("claimed", "alex", {"agent": "alex"}),
        ("transferred", "alex", {"agent": "riley", "group": sales, "from_agent": "alex"}),
        ("closed", "sam", None),
    ]
    closed_view = agent("GET", "/conversations", 200, "/conversations?view=closed")
    assert [c["id"] for c in closed_view["items"]] == [ana]

    bulk = "/conversations/close"
    agent("POST", bulk, 403, body={"all": True})
    supervisor("POST", bulk, 400, body={"ids": [other], "all": True})
    supervisor("POST", bulk, 400, body={"all": False})
    supervisor("POST", bulk, 400, body={"ids": []})
    result = supervisor("POST", bulk, 200, body={"ids": [other, ana, "conv_missing", other]})
    assert result["closed"] == 1
    assert [(f["id"], f["code"]) for f in result["failed"]] == [
        (ana, "conversation_closed"),
        ("conv_missing", "not_found"),
    ]
    assert admin("POST", bulk, 200, body={"all": True}) == {"closed": 1, "failed": [], "more": False}
    assert supervisor("GET", "/conversations", 200, "/conversations?view=all_open")["items"] == []
    assert len(supervisor("GET", "/conversations", 200, "/conversations?view=closed")["items"]) == 3


class CarrierOptedOut:
    """A transport whose provider has the recipient on its own opt-out list."""

    name = "eum"

    def send(self, message: Any) -> Any:
        from chalicelib.transport.base import TransportError

        raise TransportError("recipient is on the EUM opt-out list", permanent=True, recipient_opted_out=True)


def test_carrier_refusal_responses(spec: dict[str, Any], business: Any, agent: User) -> None:
    from chalicelib.transport.registry import use_transport

    first = {"business_number": BUSINESS_NUMBER, "contact_number": ANA, "body": "Hi"}
    with use_transport(CarrierOptedOut()):
        started = agent("POST", "/conversations", 201, body=first)
    assert (started["message"]["status"], started["message"]["error"]) == (
        "blocked",
        "recipient is on the EUM opt-out list",
    )
    history = agent("GET", "/contacts/{number}/optout-history", 200, "/contacts/15125550134/optout-history")
    assert [(h["source"], h["actor"]) for h in history["items"]] == [("carrier", "eum")]
    listed = agent("GET", "/optouts", 200)
    assert [o["source"] for o in listed["items"]] == ["carrier"]


def test_blocked_refusal_responses(spec: dict[str, Any], agent: User, supervisor: User) -> None:
    refused = agent("POST", "/contacts", 403, body={"number": ANA, "blocked": True})
    assert refused["error"]["field"] == "blocked"
    agent("POST", "/contacts", 201, body={"number": ANA, "city": "Austin"})
    route, path = "/contacts/{number}", f"/contacts/{quote(ANA)}"
    assert agent("PATCH", route, 403, path, {"city": "Dallas", "blocked": False})["error"]["field"] == "blocked"
    assert agent("PATCH", route, 200, path, {"city": "Dallas"})["blocked"] is False
    assert supervisor("PATCH", route, 200, path, {"blocked": True})["blocked"] is True


def test_optout_responses(spec: dict[str, Any], business: Any, agent: User, supervisor: User, admin: User) -> None:
    campaign = {"name": "Spring", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"}
    spring = admin("POST", "/campaigns", 201, body=campaign)["id"]
    numbers = {"numbers": [ANA, "555", "5125550134", "+15125550135"], "reason": "asked by phone"}
    results = supervisor("POST", "/optouts", 200, body=numbers)["results"]
    assert [r["result"] for r in results] == ["opted_out", "rejected", "already_opted_out", "opted_out"]
    supervisor("POST", "/optouts", 200, body={"numbers": [ANA], "campaign_id": spring, "reason": "x"})
    missing = {"numbers": [ANA], "campaign_id": "cmp_missing", "reason": "x"}
    assert supervisor("POST", "/optouts", 404, body=missing)["error"]["field"] == "campaign_id"
    supervisor("POST", "/optouts", 400, body={"numbers": [], "reason": "x"})
    agent("POST", "/optouts", 403, body=numbers)

    page = agent("GET", "/optouts", 200, "/optouts?limit=1")
    assert page["next_cursor"] is not None
    rest = agent("GET", "/optouts", 200, f"/optouts?limit=1&cursor={page['next_cursor']}")
    assert rest["next_cursor"] is None
    scoped = agent("GET", "/optouts", 200, f"/optouts?campaign_id={spring}")["items"]
    assert [(o["scope"], o["campaign_id"]) for o in scoped] == [("campaign", spring)]
    agent("GET", "/optouts", 404, "/optouts?campaign_id=cmp_missing")
    agent("GET", "/optouts", 400, f"/optouts?campaign_id={spring}&cursor={page['next_cursor']}")
    agent("GET", "/optouts", 400, "/optouts?limit=0")

    route = "/optouts/{number}"
    back_in = admin("DELETE", route, 200, f"/optouts/{quote(ANA)}?reason=consent+renewed")
    assert back_in == {"number": ANA, "result": "opted_in"}
    again = admin("DELETE", route, 200, "/optouts/15125550134?reason=consent+renewed")
    assert again["result"] == "was_not_opted_out"
    admin("DELETE", route, 200, f"/optouts/15125550134?reason=consent&campaign_id={spring}")
    admin("DELETE", route, 404, "/optouts/15125550134?reason=consent&campaign_id=cmp_missing")
    admin("DELETE", route, 400, "/optouts/15125550134")
    supervisor("DELETE", route, 403, "/optouts/15125550134?reason=x")

    history = agent("GET", "/contacts/{number}/optout-history", 200, "/contacts/15125550134/optout-history")
    assert [h["action"] for h in history["items"]] == ["opt_out", "opt_out", "opt_in", "opt_in"]
    agent("GET", "/contacts/{number}/optout-history", 400, "/contacts/123/optout-history")


def test_message_helper_responses(
    spec: dict[str, Any], business: Any, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.api import messages
    from chalicelib.config import get_settings

    preview = agent(
        "POST", "/messages/preview", 200, body={"body": "Olá :thumbsup:", "business_number": BUSINESS_NUMBER}
    )
    assert preview["encoding"] == "UCS-2"
    agent("POST", "/messages/preview", 200, body={"body": "Hello"})
    agent("POST", "/messages/preview", 400, body={"body": "   "})
    agent("POST", "/messages/preview", 404, body={"body": "Hi", "business_number": "+15125550199"})
    upload = agent("POST", "/media", 201, body={"content_type": "image/png", "filename": "menu.png"})
    assert upload["content_type"] == "image/png"
    agent("POST", "/media", 400, body={"content_type": "text/html"})

    agent("POST", "/conversations", 201, body={"business_number": BUSINESS_NUMBER, "contact_number": ANA, "body": "Hi"})
    outbox = agent("GET", "/dev/outbox", 200)
    assert [item["to"] for item in outbox["items"]] == [ANA]
    assert agent("GET", "/dev/outbox", 200, f"/dev/outbox?to={quote(ANA)}&limit=1")["items"] == outbox["items"]
    assert agent("GET", "/dev/outbox", 400, "/dev/outbox?to=12")["error"]["field"] == "to"
    assert agent("GET", "/dev/outbox", 400, "/dev/outbox?limit=1001")["error"]["field"] == "limit"
    monkeypatch.setattr(messages, "get_settings", lambda: replace(get_settings(), stage="prod"))
    agent("GET", "/dev/outbox", 404)


def upload_and_import(client: Any, bucket: Bucket, upload: dict[str, Any], csv_text: str) -> None:
    """PUT a file to a presigned upload as a browser would, then run the imports queue as SQS would."""
    request = urllib.request.Request(
        upload["upload_url"], data=csv_text.encode(), headers=upload["headers"], method="PUT"
    )
    with urllib.request.urlopen(request) as response:
        assert response.status == 200
    key = upload["job"]["file"]
    stored = bucket.s3.head_object(Bucket=bucket.name, Key=key)
    record = {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": key, "eTag": stored["ETag"]}}}
    bodies = [json.dumps({"Records": [record]})]
    while bodies:
        event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="imports")
        assert client.lambda_.invoke("import_files", event).payload == {"batchItemFailures": []}
        bodies = bucket.drain()


def test_import_responses(
    spec: dict[str, Any], client: Any, bucket: Bucket, business: Any, supervisor: User, agent: User, admin: User
) -> None:
    agent("POST", "/imports", 403, body={"filename": "list.csv"})
    assert supervisor("POST", "/imports", 400, body={"filename": "../list.csv"})["error"]["field"] == "filename"
    assert (
        supervisor("POST", "/imports", 400, body={"filename": "list.csv", "kind": "everything"})["error"]["field"]
        == "kind"
    )
    for campaign in ({"campaign_id": "spring"}, {"kind": "optouts", "campaign_id": "a/b"}):
        refused = supervisor("POST", "/imports", 400, body={"filename": "list.csv", **campaign})
        assert refused["error"]["field"] == "campaign_id"
    blank_group = supervisor("POST", "/imports", 400, body={"filename": "list.csv", "mapping": {"group": "  "}})
    assert blank_group["error"]["field"] == "mapping"

    mapping = {"columns": {"Notes": "ignore"}, "group": "Web"}
    upload = supervisor("POST", "/imports", 201, body={"filename": "list.csv", "mapping": mapping})
    job_id = upload["job"]["id"]
    assert (upload["job"]["status"], upload["job"]["file"]) == ("awaiting_upload", "imports/contacts/list.csv")
    assert upload["url"] == f"s3://{bucket.name}/imports/contacts/list.csv"
    assert upload["headers"] == {"Content-Type": "text/csv", "x-amz-meta-job-id": job_id}
    one = "/imports/{job_id}"
    assert agent("GET", one, 403, f"/imports/{job_id}")["error"]["code"] == "forbidden"
    assert admin("GET", one, 200, f"/imports/{job_id}") == upload["job"]

    rows = ["5125550101,Maria,call after 5,,x", "12,Short,,,", "(512) 555-0101,,,,", "5125550102,James,,,"]
    upload_and_import(client, bucket, upload, "number,first_name,Notes,,Phone\n" + "\n".join(rows) + "\n")
    job = supervisor("GET", one, 200, f"/imports/{job_id}")
    counts = [job[name] for name in ("rows", "created", "updated", "unchanged", "rejected", "duplicates")]
    assert (job["status"], job["percent_done"], job["group"], counts) == ("done", 100, "Web", [4, 2, 0, 0, 1, 1])
    assert [(i["column"], i["problem"]) for i in job["column_issues"]] == [
        (2, "ignored"),
        (3, "blank"),
        (4, "duplicate"),
    ]
    assert job["rejected_file"] == f"results/contacts/list.csv.{job_id}.rejected.csv"
    assert bucket.read(job["rejected_file"]).decode().splitlines()[-1].startswith("12,Short,,,,invalid number")
    summary = json.loads(bucket.read(job["summary"]))
    schema_validator(spec, "ImportJob").validate(summary)
    assert summary == job

    failing = supervisor("POST", "/imports", 201, body={"filename": "names.csv"})
    upload_and_import(client, bucket, failing, "name,city\nMaria,Austin\n")
    failed = supervisor("GET", one, 200, f"/imports/{failing['job']['id']}")
    assert (failed["status"], failed["rejected_file"]) == ("failed", None)
    assert "no phone number column" in failed["error"]
    assert supervisor("GET", one, 404, "/imports/imp_missing")["error"]["field"] == "job_id"

    missing = {"kind": "optouts", "filename": "stop.CSV", "campaign_id": "cmp_missing"}
    assert supervisor("POST", "/imports", 404, body=missing)["error"]["field"] == "campaign_id"
    campaign = {"name": "Spring", "business_number": BUSINESS_NUMBER, "welcome_text": "hi"}
    spring = admin("POST", "/campaigns", 201, body=campaign)["id"]
    stop = supervisor("POST", "/imports", 201, body={**missing, "campaign_id": spring})
    assert (stop["job"]["file"], stop["job"]["campaign_id"]) == (f"imports/optouts/{spring}/stop.CSV", spring)
    upload_and_import(client, bucket, stop, "Phone,Notes\n5125550101,x\n(512) 555-0101,\n12,\n5125550103,\n")
    stopped = supervisor("GET", one, 200, f"/imports/{stop['job']['id']}")
    counts = [stopped[name] for name in ("rows", "created", "updated", "unchanged", "rejected", "duplicates")]
    assert (stopped["status"], stopped["kind"], counts) == ("done", "optouts", [4, 2, 0, 0, 1, 1])
    assert [(i["header"], i["problem"]) for i in stopped["column_issues"]] == [("Notes", "ignored")]
    history = supervisor("GET", "/contacts/{number}/optout-history", 200, "/contacts/15125550103/optout-history")
    assert [(h["action"], h["source"], h["campaign_id"]) for h in history["items"]] == [("opt_out", "import", spring)]


def run_exports(client: Any, bucket: Bucket) -> None:
    """Hand what the exports queue holds to the export worker, as SQS would."""
    bodies = bucket.drain(bucket.exports_queue_url)
    event = client.events.generate_sqs_event(message_bodies=bodies, queue_name="exports")
    assert client.lambda_.invoke("export_files", event).payload == {"batchItemFailures": []}


def exported_rows(bucket: Bucket, job: dict[str, Any]) -> tuple[str, list[list[str]]]:
    """The finished file's text (its BOM kept) and its rows, header first."""
    data = bucket.read(job["file"])
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with a BOM"
    text = data.decode()
    return text, list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def documented_columns(spec: dict[str, Any], columns: list[str]) -> bool:
    """Whether the Exports tag lists `columns` in this order, as `a`, `b`, ..."""
    (tag,) = [tag for tag in spec["tags"] if tag["name"] == "Exports"]
    return ", ".join(f"`{column}`" for column in columns) in " ".join(tag["description"].split())


def test_export_responses(
    spec: dict[str, Any], client: Any, bucket: Bucket, supervisor: User, agent: User, admin: User
) -> None:
    agent("POST", "/exports", 403, body={"kind": "contacts"})
    assert supervisor("POST", "/exports", 400, body={})["error"]["field"] == "kind"
    assert supervisor("POST", "/exports", 400, body={"kind": "everything"})["error"]["field"] == "kind"
    assert (
        supervisor("POST", "/exports", 400, body={"kind": "contacts", "blocked": "yes"})["error"]["field"] == "blocked"
    )
    missing = {"kind": "optouts", "campaign_id": "cmp_missing"}
    assert supervisor("POST", "/exports", 404, body=missing)["error"]["field"] == "campaign_id"

    admin("POST", "/fields", 201, body={"name": "tier"})
    admin("POST", "/contacts", 201, body={"number": ANA, "first_name": "=Ana", "custom": {"tier": "gold"}})
    admin("POST", "/contacts", 201, body={"number": "+15125550135", "first_name": "Ben", "status": "inactive"})
    supervisor("POST", "/optouts", 200, body={"numbers": [ANA], "reason": "-asked by phone"})

    requested = supervisor("POST", "/exports", 202, body={"kind": "contacts", "status": "active", "q": None})
    assert (requested["status"], requested["filters"]) == ("queued", {"status": "active"})
    assert (requested["rows"], requested["file"], requested["url"], requested["finished_at"]) == (0, None, None, None)
    one = "/exports/{job_id}"
    path = f"/exports/{requested['id']}"
    assert agent("GET", one, 403, path)["error"]["code"] == "forbidden"
    assert admin("GET", one, 200, path) == requested
    run_exports(client, bucket)
    job = supervisor("GET", one, 200, path)
    assert (job["status"], job["rows"], job["file"]) == ("done", 1, f"exports/contacts/{requested['id']}.csv")
    assert job["url"].startswith("http") and job["finished_at"] is not None
    text, (header, *rows) = exported_rows(bucket, job)
    assert header[-4:] == ["tier", "status", "group", "opt_status"]
    assert documented_columns(spec, header[:-4]) and documented_columns(spec, header[-3:])
    row = dict(zip(header, rows[0], strict=True))
    assert (row["number"], row["first_name"], row["tier"], row["opt_status"]) == (ANA, "'=Ana", "gold", "opted_out")
    again = supervisor("POST", "/imports", 201, body={"filename": "again.csv"})
    upload_and_import(client, bucket, again, text)
    reimported = supervisor("GET", "/imports/{job_id}", 200, f"/imports/{again['job']['id']}")
    counts = [reimported[name] for name in ("rows", "created", "updated", "unchanged", "rejected", "duplicates")]
    assert counts == [1, 0, 0, 1, 0, 0], "an export re-imports with zero changes"
    assert [(i["header"], i["problem"]) for i in reimported["column_issues"]] == [("opt_status", "unknown")]

    listed = supervisor("POST", "/exports", 202, body={"kind": "optouts"})
    run_exports(client, bucket)
    optout_job = supervisor("GET", one, 200, f"/exports/{listed['id']}")
    assert (optout_job["status"], optout_job["rows"], optout_job["filters"]) == ("done", 1, {})
    text, (header, *rows) = exported_rows(bucket, optout_job)
    assert documented_columns(spec, header)
    assert rows == [[ANA, "company", "", "manual", "'-asked by phone", rows[0][-1]]]
    stop = supervisor("POST", "/imports", 201, body={"kind": "optouts", "filename": "optouts.csv"})
    upload_and_import(client, bucket, stop, text)
    stopped = supervisor("GET", "/imports/{job_id}", 200, f"/imports/{stop['job']['id']}")
    assert (stopped["rows"], stopped["created"], stopped["unchanged"]) == (1, 0, 1)
    assert supervisor("GET", one, 404, "/exports/exp_missing")["error"]["field"] == "job_id"


def twilio_post(client: Any, path: str, form: dict[str, str], token: str = TWILIO_AUTH_TOKEN) -> Any:
    signature = twilio_signature(TEST_API_URL + path, form, token)
    headers = {"Content-Type": FORM, "X-Twilio-Signature": signature}
    return client.http.post(path, headers=headers, body=urlencode(form))


def inbound_post(client: Any, payload: Any, secret: str = INBOUND_WEBHOOK_SECRET, age: int = 0) -> Any:
    body = json.dumps(payload).encode()
    stamp = str(int(time.time()) - age)
    headers = {
        "Content-Type": "application/json",
        "X-Timestamp": stamp,
        "X-Signature": inbound_signature(stamp, body, secret),
    }
    return client.http.post("/webhooks/inbound", headers=headers, body=body)


def documented_form(spec: dict[str, Any], route: tuple[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """The form schema of a webhook, and a form made of its properties' examples."""
    schema = inline(spec, body_content(spec, operations(spec)[route])[FORM]["schema"])
    form = {name: prop["example"] for name, prop in schema["properties"].items()}
    return schema, form


def test_twilio_form_fields_are_the_ones_the_webhooks_need(spec: dict[str, Any], client: Any, business: Any) -> None:
    """Each documented field is sent; leaving one out is refused (400) exactly when it is documented as required."""
    sent = 0

    def post(route: tuple[str, str], fields: dict[str, str]) -> int:
        nonlocal sent
        sent += 1
        if "MessageSid" in fields:  # a new message each time, not a retry
            fields = {**fields, "MessageSid": f"{fields['MessageSid']}{sent}"}
        if "To" in fields:
            fields = {**fields, "To": BUSINESS_NUMBER}
        response = twilio_post(client, route[1], fields)
        documented_body(spec, route, response)
        return response.status_code

    for path in ("/webhooks/twilio", "/webhooks/twilio/status"):
        route = ("POST", path)
        schema, form = documented_form(spec, route)
        validator_for(spec, schema).validate(form)
        required = set(schema.get("required", ()))
        assert post(route, form) == 200, path
        for name in form:
            without = {key: value for key, value in form.items() if key != name}
            assert post(route, without) == (400 if name in required else 200), f"{path} without {name}"


def test_webhook_responses(spec: dict[str, Any], client: Any, business: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    twilio = ("POST", "/webhooks/twilio")
    _, form = documented_form(spec, twilio)
    form = {**form, "To": BUSINESS_NUMBER}
    assert documented_body(spec, twilio, twilio_post(client, twilio[1], form)).endswith("<Response/>")
    documented_body(spec, twilio, twilio_post(client, twilio[1], form))  # a retry
    refused = twilio_post(client, twilio[1], form, token="wrong")
    assert refused.status_code == 403
    assert documented_body(spec, twilio, refused)["error"]["code"] == "forbidden"
    unknown = twilio_post(client, twilio[1], {**form, "MessageSid": "SMunknown", "To": "+15125550199"})
    assert unknown.status_code == 404
    documented_body(spec, twilio, unknown)
    not_form = client.http.post(twilio[1], headers={"Content-Type": "application/json"}, body="{}")
    assert not_form.status_code == 415
    documented_body(spec, twilio, not_form)
    status = ("POST", "/webhooks/twilio/status")
    _, receipt = documented_form(spec, status)
    for token, code in ((TWILIO_AUTH_TOKEN, 200), ("wrong", 403)):
        response = twilio_post(client, status[1], receipt, token=token)
        assert response.status_code == code
        documented_body(spec, status, response)

    route = ("POST", "/webhooks/inbound")
    schema = spec["components"]["schemas"]["InboundWebhook"]
    payload = {name: prop.get("example") for name, prop in schema["properties"].items() if "example" in prop}
    payload = {**payload, "to": BUSINESS_NUMBER, "media": [{"url": "https://example.com/a.jpg"}]}
    stored = documented_body(spec, route, inbound_post(client, payload))
    assert stored["keyword"] is None
    assert documented_body(spec, route, inbound_post(client, payload)) == stored  # a retry: the first answer
    stop = documented_body(spec, route, inbound_post(client, {**payload, "id": "msg-stop", "body": "Stop"}))
    assert stop["keyword"] == "STOP"
    for bad in (inbound_post(client, payload, secret="wrong"), inbound_post(client, payload, age=301)):
        assert bad.status_code == 403
        documented_body(spec, route, bad)
    invalid = inbound_post(client, {"id": "msg-x", "to": BUSINESS_NUMBER})
    assert invalid.status_code == 400
    assert documented_body(spec, route, invalid)["error"]["field"] == "from"
    unknown_number = inbound_post(client, {**payload, "id": "msg-y", "to": "+15125550199"})
    assert unknown_number.status_code == 404
    documented_body(spec, route, unknown_number)


def test_contact_group_responses(
    spec: dict[str, Any], client: Any, bucket: Bucket, supervisor: User, agent: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from chalicelib.services import contacts, groups
    from tests.test_groups import run_group_jobs

    contacts.create_contact({"number": ANA, "city": "Austin"})
    one, members = "/groups/{group_id}", "/groups/{group_id}/members"
    vip = supervisor("POST", "/groups", 201, body={"name": "VIP", "category": "retail"})
    supervisor("POST", "/groups", 409, body={"name": "vip"})
    supervisor("POST", "/groups", 400, body={"name": "Bad", "kind": "dynamic", "query": "city ="})
    agent("POST", "/groups", 403, body={"name": "Mine"})
    dynamic = supervisor("POST", "/groups", 201, body={"name": "Austin", "kind": "dynamic", "query": "city = Austin"})
    assert dynamic["state"] == "pending"
    run_group_jobs(client, bucket)
    assert [g["member_count"] for g in agent("GET", "/groups", 200)["items"]] == [0, 1]
    agent("GET", one, 200, f"/groups/{vip['id']}")
    agent("GET", one, 404, "/groups/cgr_missing")
    supervisor("PATCH", one, 200, f"/groups/{vip['id']}", {"description": "Best", "category": None})
    supervisor("PATCH", one, 409, f"/groups/{vip['id']}", {"name": "AUSTIN"})
    supervisor("PATCH", one, 400, f"/groups/{vip['id']}", {"query": "city = x"})
    added = supervisor("POST", members, 200, f"/groups/{vip['id']}/members", {"numbers": [ANA, "12", "5125550135"]})
    assert (added["added"], len(added["rejected"])) == (2, 1)
    supervisor("POST", members, 202, f"/groups/{vip['id']}/members", {"query": {"status": "active"}})
    supervisor("POST", members, 409, f"/groups/{dynamic['id']}/members", {"numbers": [ANA]})
    supervisor("POST", members, 400, f"/groups/{vip['id']}/members", {"numbers": []})
    supervisor("POST", members, 404, "/groups/cgr_missing/members", {"numbers": [ANA]})
    run_group_jobs(client, bucket)
    page = agent("GET", members, 200, f"/groups/{vip['id']}/members?limit=1")
    assert page["next_cursor"] and page["member_count"] == 2
    agent("GET", members, 400, f"/groups/{vip['id']}/members?limit=0")
    removed = supervisor(
        "POST", members + "/remove", 200, f"/groups/{vip['id']}/members/remove", {"numbers": ["5125550135"]}
    )
    assert removed["removed"] == 1
    supervisor("POST", members + "/remove", 202, f"/groups/{vip['id']}/members/remove", {"query": {"q": "512"}})
    run_group_jobs(client, bucket)
    supervisor("POST", one + "/refresh", 202, f"/groups/{dynamic['id']}/refresh")
    supervisor("POST", one + "/refresh", 409, f"/groups/{vip['id']}/refresh")
    run_group_jobs(client, bucket)
    other = supervisor("POST", "/groups", 201, body={"name": "Other"})
    groups.add_members(other["id"], [ANA])
    supervisor("POST", one + "/merge", 200, f"/groups/{vip['id']}/merge", {"from": other["id"]})
    supervisor("POST", one + "/merge", 409, f"/groups/{vip['id']}/merge", {"from": dynamic["id"]})
    supervisor("POST", one + "/merge", 404, f"/groups/{vip['id']}/merge", {"from": other["id"]})
    supervisor("POST", one + "/merge", 400, f"/groups/{vip['id']}/merge", {"from": vip["id"]})
    big = supervisor("POST", "/groups", 201, body={"name": "Big"})
    groups.add_members(big["id"], [ANA, "5125550136"])
    monkeypatch.setattr(groups, "INLINE_MEMBERS", 1)
    supervisor("POST", one + "/merge", 202, f"/groups/{vip['id']}/merge", {"from": big["id"]})
    run_group_jobs(client, bucket)
    supervisor("DELETE", one, 202, f"/groups/{vip['id']}")
    supervisor("DELETE", one, 204, f"/groups/{dynamic['id']}")
    supervisor("DELETE", one, 404, f"/groups/{dynamic['id']}")
    agent("DELETE", one, 403, f"/groups/{dynamic['id']}")


# --- the document itself


def test_broadcast_responses(
    spec: dict[str, Any], client: Any, bucket: Bucket, business: Any, supervisor: User, admin: User, agent: User
) -> None:
    from tests.test_broadcasts import run_send_queue

    route = "/broadcasts"
    body = {"body": "Hi {first_name|there}", "business_number": BUSINESS_NUMBER, "numbers": [ANA, "12"]}
    agent("POST", route, 403, body=body)
    assert supervisor("POST", route, 400, body={**body, "body": "Hi {nick}"})["error"]["field"] == "body"
    assert supervisor("POST", route, 400, body={**body, "numbers": []})["error"]["field"] == "numbers"
    assert supervisor("POST", route, 404, body={**body, "campaigns": ["cmp_x"]})["error"]["field"] == "campaigns.0"
    created = supervisor("POST", route, 202, body=body)
    assert (created["status"], created["totals"]["skipped_invalid"]) == ("scheduled", 1)
    run_send_queue(client, bucket)
    one = "/broadcasts/{broadcast_id}"
    done = admin("GET", one, 200, f"/broadcasts/{created['id']}")
    assert (done["status"], done["totals"]["sent"]) == ("done", 1)
    agent("GET", one, 403, f"/broadcasts/{created['id']}")
    admin("GET", one, 404, "/broadcasts/bc_missing")
    listed = supervisor("GET", route, 200, "/broadcasts?limit=1")
    assert [item["id"] for item in listed["items"]] == [created["id"]] and listed["next_cursor"] is None
    supervisor("GET", route, 400, "/broadcasts?cursor=nope")
    cancel = "/broadcasts/{broadcast_id}/cancel"
    assert supervisor("POST", cancel, 409, f"/broadcasts/{created['id']}/cancel")["error"]["code"] == "conflict"
    later = supervisor("POST", route, 202, body={**body, "send_at": "2099-01-01T00:00:00Z"})
    assert supervisor("POST", cancel, 200, f"/broadcasts/{later['id']}/cancel")["status"] == "cancelled"
    supervisor("POST", cancel, 404, "/broadcasts/bc_missing/cancel")


def test_document_is_valid_openapi(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.0.3"
    validate_openapi(spec)
