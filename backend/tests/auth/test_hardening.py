"""Login and password hardening: over-long passwords and unknown emails answer exactly like any
bad login (and still cost a hash), new passwords must not be guessable, and a password change
revokes earlier tokens."""

from __future__ import annotations

import time

import pytest

from spendlens.config import Settings
from tests.builders import BUILDER_PASSWORD, create_org, create_user, headers_for

LOGIN = "/api/v1/auth/login"
ME = "/api/v1/auth/me"
PASSWORD = "/api/v1/auth/me/password"
STRONG = "quiet-harbour-lantern-73"


def login(client, email: str, password: str):
    return client.post(LOGIN, data={"username": email, "password": password})


class TestOverlongCredentials:
    def test_5000_character_password_answers_the_same_401_for_known_and_unknown_emails(
        self, client, session
    ):
        user = create_user(session, create_org(session))
        known = login(client, user.email, "x" * 5000)
        unknown = login(client, "nobody-here@acme.example", "x" * 5000)
        assert known.status_code == unknown.status_code == 401
        assert (
            known.json()
            == unknown.json()
            == {
                "error": "Unauthorized",
                "detail": "Incorrect email or password",
            }
        )

    def test_over_long_attempts_count_towards_the_lock_out(self, client, session):
        user = create_user(session, create_org(session))
        for _ in range(10):
            assert login(client, user.email, "y" * 5000).status_code == 401
        assert login(client, user.email, BUILDER_PASSWORD).status_code == 429

    def test_over_long_email_answers_401_not_500(self, client):
        response = login(client, "a" * 5000 + "@acme.example", "whatever")
        assert response.status_code == 401


class TestUnknownEmailTiming:
    def test_unknown_email_costs_a_password_hash_like_a_known_one(self, client, session):
        # Without the dummy hash an unknown email answers in a few milliseconds against ~100 ms
        # for a known one; the factor of 3 leaves room for a busy machine.
        user = create_user(session, create_org(session))

        def fastest(email: str) -> float:
            times = []
            for _ in range(3):
                start = time.perf_counter()
                assert login(client, email, "wrong-password-here").status_code == 401
                times.append(time.perf_counter() - start)
            return min(times)

        known = fastest(user.email)
        unknown = fastest("nobody-at-all@acme.example")
        assert unknown > known / 3, (known, unknown)


WEAK = ["password", "aaaaaaaa", "12345678", "qwertyuiop", "iloveyou1", "Password1"]


class TestPasswordPolicy:
    @pytest.mark.parametrize("weak", WEAK)
    def test_signup_refuses_guessable_passwords(self, client, weak):
        body = {"email": "weak@newco.example", "password": weak, "organization_name": "Weak"}
        response = client.post("/api/v1/auth/signup", json=body)
        assert response.status_code == 422, weak
        assert response.json()["error"] == "ValidationError"
        assert response.json()["detail"][0]["loc"] == ["body", "password"]
        assert "too easy to guess" in response.json()["detail"][0]["msg"]

    def test_a_password_made_of_the_persons_own_details_is_refused(self, client):
        # Strong for a stranger (zxcvbn scores it 4), guessable from the person's own name.
        body = {
            "email": "zorbulon.quexter@apollo.example",
            "password": "ZorbulonQuexter",
            "full_name": "Zorbulon Quexter",
            "organization_name": "Apollo",
        }
        assert client.post("/api/v1/auth/signup", json=body).status_code == 422
        stranger = dict(body, email="someone@apollo.example", full_name="Someone")
        assert client.post("/api/v1/auth/signup", json=stranger).status_code == 202

    @pytest.mark.parametrize("weak", WEAK[:2])
    def test_admin_cannot_create_a_user_with_a_guessable_password(self, client, auth_headers, weak):
        body = {"email": "new.person@acme.example", "password": weak}
        response = client.post(
            "/api/v1/users", json=body, headers=auth_headers("admin@acme.example")
        )
        assert response.status_code == 422

    def test_a_strong_password_is_accepted(self, client, auth_headers):
        body = {"email": "new.person@acme.example", "password": STRONG}
        response = client.post(
            "/api/v1/users", json=body, headers=auth_headers("admin@acme.example")
        )
        assert response.status_code == 201
        assert login(client, "new.person@acme.example", STRONG).status_code == 200

    def test_the_demo_accounts_keep_their_password(self, client):
        # Seeded directly, not through the policy: the README's demo logins keep working.
        assert login(client, "viewer@acme.example", "spendlens-demo").status_code == 200


class TestChangePassword:
    def test_change_revokes_earlier_tokens_and_replaces_the_password(self, client, session):
        user = create_user(session, create_org(session))
        old_headers = headers_for(user)
        response = client.put(
            PASSWORD,
            json={"current_password": BUILDER_PASSWORD, "new_password": STRONG},
            headers=old_headers,
        )
        assert response.status_code == 200
        new_token = response.json()["access_token"]
        assert client.get(ME, headers=old_headers).status_code == 401
        assert client.get(ME, headers={"Authorization": f"Bearer {new_token}"}).status_code == 200
        assert login(client, user.email, BUILDER_PASSWORD).status_code == 401
        assert login(client, user.email, STRONG).status_code == 200

    def test_wrong_current_password_gets_401(self, client, session):
        user = create_user(session, create_org(session))
        response = client.put(
            PASSWORD,
            json={"current_password": "not-it-at-all", "new_password": STRONG},
            headers=headers_for(user),
        )
        assert response.status_code == 401

    def test_guessable_new_password_gets_422(self, client, session):
        user = create_user(session, create_org(session))
        response = client.put(
            PASSWORD,
            json={"current_password": BUILDER_PASSWORD, "new_password": "password1"},
            headers=headers_for(user),
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "new_password"]


class TestSignupDefault:
    SECRET = "s" * 40

    def test_signup_is_off_by_default_in_production(self, monkeypatch):
        monkeypatch.delenv("SPENDLENS_SIGNUP_ENABLED", raising=False)
        assert (
            Settings(env="production", secret_key=self.SECRET, _env_file=None).signup_enabled
            is False
        )

    @pytest.mark.parametrize("env", ["local", "test"])
    def test_signup_is_on_by_default_elsewhere(self, monkeypatch, env):
        monkeypatch.delenv("SPENDLENS_SIGNUP_ENABLED", raising=False)
        assert Settings(env=env, _env_file=None).signup_enabled is True

    def test_production_may_switch_it_on(self, monkeypatch):
        monkeypatch.setenv("SPENDLENS_SIGNUP_ENABLED", "true")
        assert Settings(env="production", secret_key=self.SECRET, _env_file=None).signup_enabled
