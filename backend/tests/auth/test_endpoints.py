"""Login, signup, /me and token validation against the real database."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from jose import jwt
from sqlalchemy import select

from spendlens.auth.security import ALGORITHM, hash_password, verify_password
from spendlens.config import get_settings
from spendlens.models import LoginFailure, Organization, User
from tests.builders import BUILDER_PASSWORD, create_org, create_user, headers_for

DEMO_PASSWORD = "spendlens-demo"
LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"


def login(client, email: str, password: str):
    return client.post(LOGIN, data={"username": email, "password": password})


class TestPasswordHashing:
    def test_argon2id_hash_verifies_and_rejects_wrong_password(self):
        stored = hash_password("correct horse battery staple")
        assert stored.startswith("$argon2id$")
        assert verify_password("correct horse battery staple", stored)[0] is True
        assert verify_password("wrong", stored)[0] is False

    def test_bcrypt_hashes_still_verify_and_are_flagged_for_upgrade(self):
        from passlib.hash import bcrypt

        legacy = bcrypt.hash("old-password")
        ok, new_hash = verify_password("old-password", legacy)
        assert ok is True
        assert new_hash is not None and new_hash.startswith("$argon2id$")


class TestLogin:
    def test_demo_analyst_logs_in_and_token_works(self, client):
        response = login(client, "analyst@acme.example", DEMO_PASSWORD)
        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "bearer"
        assert body["expires_in"] == get_settings().access_token_minutes * 60
        me = client.get(ME, headers={"Authorization": f"Bearer {body['access_token']}"})
        assert me.status_code == 200
        assert me.json()["email"] == "analyst@acme.example"
        assert me.json()["role"] == "analyst"
        assert me.json()["organization"]["name"] == "Acme Retail"

    def test_email_is_case_insensitive(self, client):
        assert login(client, "  Analyst@ACME.example ", DEMO_PASSWORD).status_code == 200

    def test_wrong_password_and_unknown_user_get_the_same_401(self, client):
        wrong = login(client, "analyst@acme.example", "not-the-password")
        unknown = login(client, "nobody@acme.example", DEMO_PASSWORD)
        assert wrong.status_code == unknown.status_code == 401
        assert wrong.json() == unknown.json()
        assert wrong.json()["error"] == "Unauthorized"
        assert "access_token" not in wrong.json()

    def test_inactive_user_cannot_log_in(self, client, session):
        org = create_org(session)
        user = create_user(session, org, is_active=False)
        response = login(client, user.email, BUILDER_PASSWORD)
        assert response.status_code == 401
        assert response.json()["detail"] == "Incorrect email or password"

    def test_missing_form_fields_get_422(self, client):
        response = client.post(LOGIN, data={"username": "x@y.example"})
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"


class TestLockout:
    def test_ten_failures_lock_the_email_even_for_the_right_password(self, client, session):
        org = create_org(session)
        user = create_user(session, org)
        for _ in range(get_settings().login_max_failures):
            assert login(client, user.email, "wrong-password").status_code == 401
        locked = login(client, user.email, BUILDER_PASSWORD)
        assert locked.status_code == 429
        assert locked.json()["error"] == "TooManyRequests"
        retry_after = int(locked.headers["Retry-After"])
        assert 0 < retry_after <= get_settings().login_window_seconds + 1
        # Another account is not affected.
        assert login(client, "viewer@acme.example", DEMO_PASSWORD).status_code == 200

    def test_lock_lifts_when_failures_age_out_of_the_window(self, client, session):
        org = create_org(session)
        user = create_user(session, org)
        window = get_settings().login_window_seconds
        old = datetime.now(UTC) - timedelta(seconds=window + 5)
        for _ in range(get_settings().login_max_failures):
            session.add(LoginFailure(email=user.email, failed_at=old))
        session.flush()
        assert login(client, user.email, BUILDER_PASSWORD).status_code == 200

    def test_success_clears_earlier_failures(self, client, session):
        org = create_org(session)
        user = create_user(session, org)
        for _ in range(3):
            login(client, user.email, "wrong-password")
        assert login(client, user.email, BUILDER_PASSWORD).status_code == 200
        remaining = session.execute(
            select(LoginFailure).where(LoginFailure.email == user.email)
        ).all()
        assert remaining == []

    def test_failures_are_recorded_for_unknown_emails_too(self, client, session):
        login(client, "ghost@nowhere.example", "x")
        count = session.execute(
            select(LoginFailure).where(LoginFailure.email == "ghost@nowhere.example")
        ).all()
        assert len(count) == 1


def _claims(user: User, **overrides):
    settings = get_settings()
    now = int(time.time())
    claims = {
        "sub": str(user.id),
        "org": user.org_id,
        "role": user.role,
        "ver": user.token_version,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


@pytest.fixture
def analyst(session):
    return session.execute(select(User).where(User.email == "analyst@acme.example")).scalar_one()


class TestTokenValidation:
    def _me(self, client, token):
        return client.get(ME, headers={"Authorization": f"Bearer {token}"})

    def test_valid_token_is_accepted(self, client, analyst):
        token = jwt.encode(_claims(analyst), get_settings().secret_key, algorithm=ALGORITHM)
        assert self._me(client, token).status_code == 200

    def test_missing_token_gets_401_with_challenge(self, client):
        response = client.get(ME)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"

    def test_tampered_payload_gets_401(self, client, analyst):
        token = jwt.encode(_claims(analyst), get_settings().secret_key, algorithm=ALGORITHM)
        header, payload, signature = token.split(".")
        forged = jwt.encode(_claims(analyst, role="admin"), "x", algorithm=ALGORITHM)
        tampered = ".".join([header, forged.split(".")[1], signature])
        assert self._me(client, tampered).status_code == 401

    def test_expired_token_gets_401(self, client, analyst):
        claims = _claims(analyst, exp=int(time.time()) - 10, iat=int(time.time()) - 700)
        token = jwt.encode(claims, get_settings().secret_key, algorithm=ALGORITHM)
        assert self._me(client, token).status_code == 401

    def test_token_signed_with_another_key_gets_401(self, client, analyst):
        token = jwt.encode(_claims(analyst), "another-key-entirely", algorithm=ALGORITHM)
        assert self._me(client, token).status_code == 401

    def test_alg_none_token_gets_401(self, client, analyst):
        import base64
        import json

        def b64(obj):
            raw = json.dumps(obj).encode()
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

        token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(_claims(analyst))}."
        assert self._me(client, token).status_code == 401

    def test_token_without_exp_gets_401(self, client, analyst):
        token = jwt.encode(
            _claims(analyst, exp=None), get_settings().secret_key, algorithm=ALGORITHM
        )
        assert self._me(client, token).status_code == 401

    @pytest.mark.parametrize("claim", ["iss", "aud", "sub", "ver", "org"])
    def test_token_missing_a_required_claim_gets_401(self, client, analyst, claim):
        claims = _claims(analyst)
        del claims[claim]
        token = jwt.encode(claims, get_settings().secret_key, algorithm=ALGORITHM)
        assert self._me(client, token).status_code == 401

    def test_token_for_another_audience_gets_401(self, client, analyst):
        token = jwt.encode(
            _claims(analyst, aud="someone-else"), get_settings().secret_key, algorithm=ALGORITHM
        )
        assert self._me(client, token).status_code == 401

    def test_hs512_token_with_right_key_gets_401(self, client, analyst):
        token = jwt.encode(_claims(analyst), get_settings().secret_key, algorithm="HS512")
        assert self._me(client, token).status_code == 401

    def test_garbage_token_gets_401(self, client):
        assert self._me(client, "not.a.jwt").status_code == 401
        assert self._me(client, "garbage").status_code == 401

    def test_token_of_deleted_user_gets_401(self, client, session):
        org = create_org(session)
        user = create_user(session, org)
        headers = headers_for(user)
        session.delete(user)
        session.flush()
        assert client.get(ME, headers=headers).status_code == 401


class TestSignup:
    BODY = {
        "email": "Founder@NewCo.example",
        "password": "a-long-password",
        "full_name": "Fay Founder",
        "organization_name": "NewCo Ltd",
    }
    SIGNUP = "/api/v1/auth/signup"

    def test_creates_org_with_first_admin_who_can_log_in(self, client):
        response = client.post(self.SIGNUP, json=self.BODY)
        assert response.status_code == 202
        assert "access_token" not in response.json()
        token = login(client, "founder@newco.example", "a-long-password").json()["access_token"]
        me = client.get(ME, headers={"Authorization": f"Bearer {token}"}).json()
        assert me["role"] == "admin"
        assert me["email"] == "founder@newco.example"
        assert me["organization"]["name"] == "NewCo Ltd"
        assert me["organization"]["slug"] == "newco-ltd"

    def test_new_org_sees_none_of_the_demo_data(self, client):
        client.post(self.SIGNUP, json=self.BODY)
        token = login(client, "founder@newco.example", "a-long-password").json()["access_token"]
        listing = client.get("/api/v1/transactions", headers={"Authorization": f"Bearer {token}"})
        assert listing.status_code == 200
        assert listing.json()["total"] == 0

    def test_existing_email_gets_the_same_answer_and_changes_nothing(self, client, session):
        # Was: a 409 that told anyone which emails have accounts.
        fresh = client.post(self.SIGNUP, json=dict(self.BODY, email="fresh@newco.example"))
        taken = client.post(self.SIGNUP, json=dict(self.BODY, email="analyst@acme.example"))
        assert taken.status_code == fresh.status_code == 202
        assert taken.json() == fresh.json()
        assert login(client, "analyst@acme.example", DEMO_PASSWORD).status_code == 200
        assert login(client, "analyst@acme.example", "a-long-password").status_code == 401
        orgs = session.execute(select(Organization).where(Organization.name == "NewCo Ltd"))
        assert len(orgs.all()) == 1

    def test_same_org_name_gets_a_distinct_slug(self, client):
        client.post(self.SIGNUP, json=self.BODY)
        second = client.post(self.SIGNUP, json=dict(self.BODY, email="other@newco.example"))
        assert second.status_code == 202
        token = login(client, "other@newco.example", "a-long-password").json()["access_token"]
        me = client.get(ME, headers={"Authorization": f"Bearer {token}"}).json()
        assert me["organization"]["slug"] == "newco-ltd-2"

    @pytest.mark.parametrize(
        "change",
        [{"email": "not-an-email"}, {"password": "short"}, {"organization_name": ""}],
    )
    def test_invalid_body_gets_422(self, client, change):
        response = client.post(self.SIGNUP, json=dict(self.BODY, **change))
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"

    def test_disabled_signup_gets_403(self, app, client):
        from spendlens.auth.dependencies import get_settings as dep_settings

        disabled = get_settings().model_copy(update={"signup_enabled": False})
        app.dependency_overrides[dep_settings] = lambda: disabled
        response = client.post(self.SIGNUP, json=self.BODY)
        assert response.status_code == 403
