"""Admins manage their organisation's users; role changes and deactivation revoke tokens."""

from __future__ import annotations

from tests.builders import create_org, create_user, headers_for

USERS = "/api/v1/users"


class TestListUsers:
    def test_admin_sees_only_own_org_users(self, client, auth_headers):
        response = client.get(USERS, headers=auth_headers("admin@acme.example"))
        assert response.status_code == 200
        emails = {u["email"] for u in response.json()["items"]}
        assert emails == {"admin@acme.example", "analyst@acme.example", "viewer@acme.example"}
        assert response.json()["total"] == 3

    def test_analyst_gets_403(self, client, auth_headers):
        response = client.get(USERS, headers=auth_headers("analyst@acme.example"))
        assert response.status_code == 403
        assert response.json()["error"] == "Forbidden"


class TestCreateUser:
    def test_admin_creates_user_who_can_log_in(self, client, auth_headers):
        body = {
            "email": "New.Person@acme.example",
            "password": "tidy-otter-lantern-42",
            "role": "analyst",
        }
        response = client.post(USERS, json=body, headers=auth_headers("admin@acme.example"))
        assert response.status_code == 201
        assert response.json()["email"] == "new.person@acme.example"
        login = client.post(
            "/api/v1/auth/login",
            data={"username": "new.person@acme.example", "password": "tidy-otter-lantern-42"},
        )
        assert login.status_code == 200

    def test_duplicate_email_gets_409(self, client, auth_headers):
        body = {"email": "viewer@acme.example", "password": "tidy-otter-lantern-42"}
        response = client.post(USERS, json=body, headers=auth_headers("admin@acme.example"))
        assert response.status_code == 409

    def test_unknown_role_gets_422(self, client, auth_headers):
        body = {"email": "x@acme.example", "password": "tidy-otter-lantern-42", "role": "owner"}
        response = client.post(USERS, json=body, headers=auth_headers("admin@acme.example"))
        assert response.status_code == 422


class TestUpdateUser:
    def test_role_change_revokes_existing_tokens(self, client, session, demo, auth_headers):
        user = create_user(session, demo.acme, role="viewer")
        old_headers = headers_for(user)
        assert client.get("/api/v1/auth/me", headers=old_headers).status_code == 200
        response = client.patch(
            f"{USERS}/{user.id}",
            json={"role": "analyst"},
            headers=auth_headers("admin@acme.example"),
        )
        assert response.status_code == 200
        assert response.json()["role"] == "analyst"
        assert client.get("/api/v1/auth/me", headers=old_headers).status_code == 401
        session.refresh(user)
        assert client.get("/api/v1/auth/me", headers=headers_for(user)).status_code == 200

    def test_deactivation_revokes_tokens_and_blocks_login(
        self, client, session, demo, auth_headers
    ):
        user = create_user(session, demo.acme, role="analyst")
        old_headers = headers_for(user)
        response = client.patch(
            f"{USERS}/{user.id}",
            json={"is_active": False},
            headers=auth_headers("admin@acme.example"),
        )
        assert response.status_code == 200
        assert response.json()["is_active"] is False
        assert client.get("/api/v1/auth/me", headers=old_headers).status_code == 401

    def test_renaming_keeps_tokens_valid(self, client, session, demo, auth_headers):
        user = create_user(session, demo.acme)
        old_headers = headers_for(user)
        client.patch(
            f"{USERS}/{user.id}",
            json={"full_name": "Renamed"},
            headers=auth_headers("admin@acme.example"),
        )
        assert client.get("/api/v1/auth/me", headers=old_headers).json()["full_name"] == "Renamed"

    def test_admin_cannot_demote_or_deactivate_self(self, client, session, auth_headers):
        headers = auth_headers("admin@acme.example")
        me = client.get("/api/v1/auth/me", headers=headers).json()
        for change in ({"role": "viewer"}, {"is_active": False}):
            response = client.patch(f"{USERS}/{me['id']}", json=change, headers=headers)
            assert response.status_code == 409

    def test_other_org_user_is_404(self, client, session, auth_headers):
        other = create_user(session, create_org(session))
        headers = auth_headers("admin@acme.example")
        assert client.get(f"{USERS}/{other.id}", headers=headers).status_code == 404
        response = client.patch(f"{USERS}/{other.id}", json={"role": "admin"}, headers=headers)
        assert response.status_code == 404
        session.refresh(other)
        assert other.role == "analyst"
