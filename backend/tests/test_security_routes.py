"""Walks every route of the app: nothing under /api/v1 but login and signup answers without a
token, and every write route admits exactly the roles it should."""

from __future__ import annotations

import re

import pytest

from spendlens.kit.routes import route_table
from spendlens.main import create_app
from tests.builders import create_user, headers_for

PUBLIC_API_ROUTES = {
    ("POST", "/api/v1/auth/login"),
    # Signup creates a new organisation; it is public by design and can be switched off.
    ("POST", "/api/v1/auth/signup"),
    # The invitation's one-time token is the credential of this call.
    ("POST", "/api/v1/auth/invitations/accept"),
}

# Minimum role per write route; every write route must be listed here.
WRITE_ROUTE_ROLES = {
    ("POST", "/api/v1/transactions"): "analyst",
    ("PATCH", "/api/v1/transactions/{transaction_id}"): "analyst",
    ("DELETE", "/api/v1/transactions/{transaction_id}"): "analyst",
    ("POST", "/api/v1/customers"): "analyst",
    ("PATCH", "/api/v1/customers/{customer_id}"): "analyst",
    ("DELETE", "/api/v1/customers/{customer_id}"): "analyst",
    ("POST", "/api/v1/imports"): "analyst",
    ("POST", "/api/v1/jobs/{job_id}/retry"): "analyst",
    ("POST", "/api/v1/clv/fits"): "analyst",
    ("POST", "/api/v1/models/train"): "analyst",
    ("POST", "/api/v1/models/{model_id}/activate"): "analyst",
    ("POST", "/api/v1/users"): "admin",
    ("PATCH", "/api/v1/users/{user_id}"): "admin",
    ("POST", "/api/v1/users/invitations"): "admin",
    ("DELETE", "/api/v1/users/invitations/{invitation_id}"): "admin",
    ("PUT", "/api/v1/auth/me/password"): "viewer",
    ("POST", "/api/v1/segments/recompute"): "analyst",
    ("PUT", "/api/v1/segments/settings"): "admin",
    ("PUT", "/api/v1/journey/settings"): "admin",
    ("POST", "/api/v1/events"): "analyst",
    ("POST", "/api/v1/plans"): "analyst",
    ("POST", "/api/v1/ingest-keys"): "admin",
    ("DELETE", "/api/v1/ingest-keys/{key_id}"): "admin",
    ("POST", "/api/v1/alerts/rules"): "admin",
    ("PUT", "/api/v1/alerts/rules/{rule_id}"): "admin",
    ("DELETE", "/api/v1/alerts/rules/{rule_id}"): "admin",
    ("POST", "/api/v1/alerts/evaluate"): "analyst",
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): "analyst",
    ("POST", "/api/v1/alerts/{alert_id}/resolve"): "analyst",
    ("POST", "/api/v1/health/recompute"): "analyst",
    ("PUT", "/api/v1/health/settings"): "admin",
}
# Write routes whose every input is optional: an allowed role gets straight to 202 with `{}`.
NOTHING_TO_VALIDATE = {
    ("POST", "/api/v1/segments/recompute"),
    ("POST", "/api/v1/alerts/evaluate"),
    ("POST", "/api/v1/health/recompute"),
}
ROLE_RANK = {"viewer": 0, "analyst": 1, "admin": 2}


def api_routes():
    for methods, path, _ in route_table(create_app()):
        if path.startswith("/api/v1"):
            for method in sorted(methods):
                yield method, path


def concrete(path: str, object_id: int = 1) -> str:
    return re.sub(r"\{[^}]+\}", str(object_id), path)


def test_route_inventory_is_complete():
    assert len(list(api_routes())) >= 15, "the walk must reach the routes of nested routers"
    writes = {(m, p) for m, p in api_routes() if m != "GET"} - PUBLIC_API_ROUTES
    assert writes == set(WRITE_ROUTE_ROLES), "add new write routes to WRITE_ROUTE_ROLES"


@pytest.mark.parametrize("method,path", sorted(set(api_routes())))
def test_every_api_route_needs_a_token(client, method, path):
    if (method, path) in PUBLIC_API_ROUTES:
        pytest.skip("public by design")
    response = client.request(method, concrete(path))
    assert response.status_code == 401, f"{method} {path} answered {response.status_code}"
    assert response.json()["error"] == "Unauthorized"


@pytest.mark.parametrize("role", ["viewer", "analyst", "admin"])
@pytest.mark.parametrize("method,path", sorted(WRITE_ROUTE_ROLES))
def test_write_routes_admit_exactly_their_roles(client, session, demo, role, method, path):
    user = create_user(session, demo.acme, role=role)
    # An empty JSON body: an allowed role gets past the role check to validation (422) or a
    # lookup (404); a refused role is stopped at 403 before either.
    url = concrete(path, object_id=999_999_999)  # no such object: nothing real is touched
    response = client.request(method, url, json={}, headers=headers_for(user))
    allowed = ROLE_RANK[role] >= ROLE_RANK[WRITE_ROUTE_ROLES[(method, path)]]
    if allowed:
        expected = (202,) if (method, path) in NOTHING_TO_VALIDATE else (404, 422)
        assert response.status_code in expected, (method, path, response.status_code)
    else:
        assert response.status_code == 403, (method, path, response.status_code)
