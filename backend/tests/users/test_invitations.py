"""Invitations: an admin invites an email with a role, the token (stored only as its hash) is good
once and until it expires, the new user lands in the inviter's organisation; only admins manage
invitations, and another organisation's answer 404."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from spendlens.models import Invitation, User
from tests.builders import create_org, create_user, headers_for

INVITATIONS = "/api/v1/users/invitations"
ACCEPT = "/api/v1/auth/invitations/accept"
STRONG = "velvet-compass-orchard-19"


@pytest.fixture
def admin(session, demo):
    return create_user(session, demo.acme, role="admin")


def invite(client, admin, email="newcomer@acme.example", role="analyst"):
    response = client.post(
        INVITATIONS, json={"email": email, "role": role}, headers=headers_for(admin)
    )
    assert response.status_code == 201, response.text
    return response.json()


def accept(client, token, password=STRONG, full_name="New Comer"):
    return client.post(ACCEPT, json={"token": token, "password": password, "full_name": full_name})


class TestInviteAndAccept:
    def test_accepted_invitation_creates_the_user_in_the_inviters_org(
        self, client, session, admin, demo
    ):
        invitation = invite(client, admin, email="Newcomer@ACME.example", role="analyst")
        assert invitation["email"] == "newcomer@acme.example"
        response = accept(client, invitation["token"])
        assert response.status_code == 201
        body = response.json()
        assert (body["email"], body["role"]) == ("newcomer@acme.example", "analyst")
        assert body["organization"]["id"] == demo.acme.id
        login = client.post(
            "/api/v1/auth/login", data={"username": "newcomer@acme.example", "password": STRONG}
        )
        assert login.status_code == 200

    def test_the_token_is_stored_only_as_its_hash(self, client, session, admin):
        token = invite(client, admin)["token"]
        stored = session.execute(select(Invitation.token_hash)).scalars().all()
        assert token not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored

    def test_a_token_works_once(self, client, admin):
        token = invite(client, admin)["token"]
        assert accept(client, token).status_code == 201
        again = accept(client, token, full_name="Someone Else")
        assert again.status_code == 401
        assert again.json()["error"] == "Unauthorized"

    def test_an_expired_token_is_refused(self, client, session, admin):
        invitation = invite(client, admin)
        row = session.get(Invitation, invitation["id"])
        row.expires_at = datetime.now(UTC) - timedelta(seconds=1)
        session.flush()
        assert accept(client, invitation["token"]).status_code == 401
        assert (
            session.execute(select(User).where(User.email == "newcomer@acme.example")).first()
            is None
        )

    def test_an_unknown_token_is_refused(self, client):
        assert accept(client, "made-up-token").status_code == 401

    def test_a_guessable_password_is_refused_and_the_invitation_stays_usable(self, client, admin):
        token = invite(client, admin)["token"]
        assert accept(client, token, password="password").status_code == 422
        assert accept(client, token).status_code == 201

    def test_inviting_an_email_that_has_an_account_gets_409(self, client, admin):
        response = client.post(
            INVITATIONS, json={"email": "viewer@acme.example"}, headers=headers_for(admin)
        )
        assert response.status_code == 409


class TestManageInvitations:
    def test_list_shows_the_pending_invitations_of_the_org_only(self, client, session, admin, demo):
        first = invite(client, admin, email="one@acme.example")
        second = invite(client, admin, email="two@acme.example")
        accept(client, first["token"])
        globex_admin = create_user(session, demo.globex, role="admin")
        invite(client, globex_admin, email="three@globex.example")
        listing = client.get(INVITATIONS, headers=headers_for(admin)).json()
        assert [i["email"] for i in listing["items"]] == ["two@acme.example"]
        assert listing["total"] == 1
        assert "token" not in listing["items"][0]
        assert listing["items"][0]["id"] == second["id"]

    def test_revoked_invitation_cannot_be_accepted(self, client, admin):
        invitation = invite(client, admin)
        revoke = client.delete(f"{INVITATIONS}/{invitation['id']}", headers=headers_for(admin))
        assert revoke.status_code == 204
        assert accept(client, invitation["token"]).status_code == 401

    def test_another_orgs_invitation_answers_404(self, client, session, admin, demo):
        invitation = invite(client, admin)
        globex_admin = create_user(session, demo.globex, role="admin")
        response = client.delete(
            f"{INVITATIONS}/{invitation['id']}", headers=headers_for(globex_admin)
        )
        assert response.status_code == 404
        assert accept(client, invitation["token"]).status_code == 201

    @pytest.mark.parametrize("role", ["viewer", "analyst"])
    def test_only_admins_manage_invitations(self, client, session, demo, admin, role):
        invitation = invite(client, admin)
        user = create_user(session, demo.acme, role=role)
        headers = headers_for(user)
        assert client.get(INVITATIONS, headers=headers).status_code == 403
        assert (
            client.post(INVITATIONS, json={"email": "x@acme.example"}, headers=headers).status_code
            == 403
        )
        assert (
            client.delete(f"{INVITATIONS}/{invitation['id']}", headers=headers).status_code == 403
        )

    def test_invitations_of_a_deleted_org_go_with_it(self, client, session):
        org = create_org(session)
        invite(client, create_user(session, org, role="admin"))
        session.delete(org)
        session.flush()
        assert session.execute(select(Invitation).where(Invitation.org_id == org.id)).all() == []
