"""The role table covers every registered route, and the app enforces it on each."""

import json

import pytest

from chalicelib.api.access import FIELD_ROLES, PUBLIC, ROUTE_ROLES
from chalicelib.api.authorizer import cognito
from chalicelib.auth import ROLES, caller_from_context, parse_groups
from devstack.tokens import demo_token
from tests.conftest import Api


def registered_routes():
    from app import app

    return sorted((method, path) for path, methods in app.routes.items() for method in methods)


def sample_path(path):
    return (
        path.replace("{number}", "15125550134")
        .replace("{name}", "tier")
        .replace("{id}", "x")
        .replace("{username}", "alex")
        .replace("{group_id}", "grp_x")
    )


def test_every_registered_route_is_in_the_role_table_and_nothing_else():
    assert set(registered_routes()) == set(ROUTE_ROLES)


def test_every_non_public_route_uses_the_cognito_authorizer():
    from app import app

    for path, methods in app.routes.items():
        for method, entry in methods.items():
            if ROUTE_ROLES[(method, path)] != PUBLIC:
                assert entry.authorizer is cognito, (method, path)


@pytest.mark.parametrize(("method", "path"), registered_routes())
def test_route_refuses_anonymous_and_forbidden_roles(client, method, path):
    allowed = ROUTE_ROLES[(method, path)]
    url = sample_path(path)
    anonymous = Api(client, None).request(method, url, {})
    if allowed == PUBLIC:
        assert anonymous.status_code != 401
        return
    assert anonymous.status_code == 401
    assert json.loads(anonymous.body)["error"]["code"] == "unauthorized"
    for role in ROLES:
        response = Api(client, demo_token(f"user-{role}", role)).request(method, url, {})
        if role in allowed:
            assert response.status_code not in (401, 403), (role, method, path, response.body)
        else:
            assert response.status_code == 403, (role, method, path)
            assert json.loads(response.body)["error"]["code"] == "forbidden"


@pytest.mark.parametrize("route", sorted(FIELD_ROLES), ids=" ".join)
def test_field_rules_narrow_the_roles_of_a_route_that_exists(route):
    assert route in ROUTE_ROLES
    for allowed in FIELD_ROLES[route].values():
        assert allowed < ROUTE_ROLES[route], "a field every caller of the route may send needs no rule"


def test_token_without_a_known_role_is_forbidden(client):
    response = Api(client, demo_token("mallory", "customers")).get("/contacts")
    assert response.status_code == 403


def test_highest_role_wins():
    caller = caller_from_context({"authorizer": {"claims": {"cognito:username": "u", "cognito:groups": "agent,admin"}}})
    assert caller.role == "admin"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (["admin", "agent"], ["admin", "agent"]),
        ("admin,agent", ["admin", "agent"]),
        ("[admin agent]", ["admin", "agent"]),
    ],
)
def test_groups_claim_in_each_shape_api_gateway_sends(raw, expected):
    assert parse_groups(raw) == expected


def test_no_claims_means_no_caller():
    assert caller_from_context({}) is None
    assert caller_from_context({"authorizer": {"claims": {"cognito:groups": "admin"}}}) is None
