"""Ingest keys: admins create (the secret shown once, stored as SHA-256), list and revoke them; a
live key may post events to its own organisation and gets 403 on every other route, /auth/me
included; a revoked or unknown key gets 401."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select, text

from spendlens.kit.routes import route_table
from spendlens.main import create_app
from spendlens.models import Event, IngestKey
from tests.builders import create_org, create_user, headers_for
from tests.events.helpers import event, post
from tests.test_security_routes import PUBLIC_API_ROUTES, concrete

KEYS = "/api/v1/ingest-keys"


@pytest.fixture
def org(session):
    return create_org(session)


@pytest.fixture
def admin(session, org):
    return headers_for(create_user(session, org, role="admin"))


def create_key(client, admin, name="shop backend") -> dict:
    response = client.post(KEYS, json={"name": name}, headers=admin)
    assert response.status_code == 201, response.text
    return response.json()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


class TestManageKeys:
    def test_the_secret_is_shown_once_and_stored_as_its_sha256(self, client, session, org, admin):
        created = create_key(client, admin)
        secret = created["key"]
        assert secret.startswith("slk_") and len(secret) >= 40
        assert created["prefix"] == secret[:12]
        row = session.execute(select(IngestKey).where(IngestKey.id == created["id"])).scalar_one()
        assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
        assert row.org_id == org.id
        as_text = session.execute(
            text("SELECT to_jsonb(k)::text FROM ingest_keys k WHERE id = :id"), {"id": row.id}
        ).scalar_one()
        assert secret not in as_text and secret[12:] not in as_text
        listed = client.get(KEYS, headers=admin).json()
        assert listed["total"] == 1
        assert "key" not in listed["items"][0]
        assert listed["items"][0]["prefix"] == created["prefix"]

    @pytest.mark.parametrize("role", ["viewer", "analyst"])
    def test_only_admins_manage_keys(self, client, session, org, admin, role):
        key = create_key(client, admin)
        headers = headers_for(create_user(session, org, role=role))
        assert client.post(KEYS, json={"name": "x"}, headers=headers).status_code == 403
        assert client.get(KEYS, headers=headers).status_code == 403
        assert client.delete(f"{KEYS}/{key['id']}", headers=headers).status_code == 403

    def test_another_orgs_key_cannot_be_revoked(self, client, session, org, admin):
        key = create_key(client, admin)
        stranger = headers_for(create_user(session, create_org(session), role="admin"))
        assert client.delete(f"{KEYS}/{key['id']}", headers=stranger).status_code == 404
        assert client.get(KEYS, headers=stranger).json()["total"] == 0
        assert (
            post(
                client, bearer(key["key"]), [event("login", "c", "2026-01-01T00:00:00Z")]
            ).status_code
            == 200
        )


class TestKeyAuthentication:
    def test_a_key_posts_events_into_its_own_organisation(self, client, session, org, admin):
        key = create_key(client, admin)
        response = post(client, bearer(key["key"]), [event("login", "c-1", "2026-01-01T00:00:00Z")])
        assert response.status_code == 200, response.text
        assert response.json()["stored"] == 1
        orgs = session.execute(select(Event.org_id)).scalars().all()
        assert org.id in orgs
        row = session.execute(select(IngestKey).where(IngestKey.id == key["id"])).scalar_one()
        session.refresh(row)
        assert row.last_used_at is not None

    def test_a_revoked_key_gets_401(self, client, org, admin):
        key = create_key(client, admin)
        revoked = client.delete(f"{KEYS}/{key['id']}", headers=admin)
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        response = post(client, bearer(key["key"]), [event("login", "c", "2026-01-01T00:00:00Z")])
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"
        assert client.get("/api/v1/auth/me", headers=bearer(key["key"])).status_code == 401

    def test_an_unknown_key_gets_401(self, client):
        response = post(
            client, bearer("slk_" + "x" * 43), [event("login", "c", "2026-01-01T00:00:00Z")]
        )
        assert response.status_code == 401

    def test_a_viewer_cannot_post_events(self, client, session, org):
        viewer = headers_for(create_user(session, org, role="viewer"))
        response = post(client, viewer, [event("login", "c", "2026-01-01T00:00:00Z")])
        assert response.status_code == 403


def _key_routes():
    for methods, path, _ in route_table(create_app()):
        if path.startswith("/api/v1"):
            for method in sorted(methods):
                if (method, path) not in PUBLIC_API_ROUTES | {("POST", "/api/v1/events")}:
                    yield method, path


@pytest.fixture
def live_key(client, admin) -> dict[str, str]:
    return bearer(create_key(client, admin)["key"])


@pytest.mark.parametrize("method,path", sorted(set(_key_routes())))
def test_a_key_gets_403_on_every_other_route(client, live_key, method, path):
    response = client.request(method, concrete(path), json={}, headers=live_key)
    assert response.status_code == 403, f"{method} {path} answered {response.status_code}"
    assert response.json()["error"] == "Forbidden"
