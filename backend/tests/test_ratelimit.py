"""Rate limits: per token and per client address on every API call, stricter per address on login
and signup, 429 in the error shape with Retry-After; counted in Redis when SPENDLENS_REDIS_URL is
set, so every API process shares them."""

from __future__ import annotations

import uuid

import pytest
import redis
from pydantic import ValidationError

from spendlens.config import Settings, get_settings
from spendlens.ratelimit import RateLimiter
from tests.builders import create_org, create_user, headers_for

REDIS_URL = "redis://127.0.0.1:6379/0"


def limited(app, **limits) -> RateLimiter:
    """Swap the app's limiter for one with these limits (the rest as configured)."""
    limiter = RateLimiter(get_settings().model_copy(update=limits))
    app.state.rate_limiter = limiter
    return limiter


def assert_429(response, limit_text: str) -> None:
    assert response.status_code == 429
    assert response.json()["error"] == "TooManyRequests"
    assert limit_text in response.json()["detail"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60


class TestPerToken:
    def test_calls_over_the_limit_get_429_with_retry_after(self, app, client, auth_headers):
        limited(app, rate_limit_per_token="5/minute")
        headers = auth_headers("analyst@acme.example")
        statuses = [client.get("/api/v1/auth/me", headers=headers).status_code for _ in range(5)]
        assert statuses == [200] * 5
        assert_429(client.get("/api/v1/auth/me", headers=headers), "5 per minute")

    def test_each_user_has_a_budget_of_their_own(self, app, client, auth_headers):
        limited(app, rate_limit_per_token="3/minute")
        analyst, viewer = auth_headers("analyst@acme.example"), auth_headers("viewer@acme.example")
        for _ in range(3):
            client.get("/api/v1/auth/me", headers=analyst)
        assert client.get("/api/v1/auth/me", headers=analyst).status_code == 429
        assert client.get("/api/v1/auth/me", headers=viewer).status_code == 200

    def test_the_default_stops_2000_rapid_calls_of_one_token(self, app, client, session):
        limiter = app.state.rate_limiter
        user = create_user(session, create_org(session))
        # The per-token limit itself, without 2,000 HTTP round trips.
        allowed = sum(
            limiter.strategy.hit(limiter.per_token[0], "user", str(user.id)) for _ in range(2000)
        )
        assert allowed == limiter.per_token[0].amount < 2000
        assert client.get("/api/v1/auth/me", headers=headers_for(user)).status_code == 429


class TestPerAddress:
    def test_anonymous_calls_are_counted_per_address(self, app, client):
        limited(app, rate_limit_per_address="4/minute")
        statuses = [client.get("/api/v1/transactions").status_code for _ in range(4)]
        assert statuses == [401] * 4
        assert_429(client.get("/api/v1/transactions"), "4 per minute")

    def test_probes_and_docs_are_not_limited(self, app, client):
        limited(app, rate_limit_per_address="1/minute")
        for _ in range(3):
            assert client.get("/livez").status_code == 200
            assert client.get("/docs").status_code == 200


class TestLoginAndSignup:
    def test_a_login_spray_over_many_emails_is_stopped_per_address(self, client):
        # The defaults: a spray of 60 emails from one address is cut off at 30.
        statuses = [
            client.post(
                "/api/v1/auth/login",
                data={"username": f"victim{i}@acme.example", "password": "Summer2026!"},
            ).status_code
            for i in range(60)
        ]
        assert statuses.count(401) == 30
        assert statuses[30:] == [429] * 30

    def test_thirty_signups_from_one_address_are_not_all_accepted(self, app, client):
        limited(app, rate_limit_signup="3/minute")
        statuses = [
            client.post(
                "/api/v1/auth/signup",
                json={
                    "email": f"founder{i}@spree.example",
                    "password": "sturdy-walnut-meadow-88",
                    "organization_name": f"Spree {i}",
                },
            ).status_code
            for i in range(30)
        ]
        assert statuses[:3] == [202] * 3
        assert statuses[3:] == [429] * 27

    def test_default_signup_limit_stops_a_burst(self):
        limiter = RateLimiter(get_settings())
        allowed = sum(limiter.strategy.hit(limiter.signup[0], "signup", "x") for _ in range(30))
        assert allowed == 10


class TestConfiguration:
    def test_disabled_limits_let_everything_through(self, app, client, auth_headers):
        limited(app, rate_limit_enabled=False, rate_limit_per_token="1/minute")
        headers = auth_headers("analyst@acme.example")
        assert all(
            client.get("/api/v1/auth/me", headers=headers).status_code == 200 for _ in range(3)
        )

    def test_a_malformed_limit_is_refused_at_start(self):
        with pytest.raises(ValidationError, match="not a rate limit"):
            Settings(rate_limit_login="lots")

    def test_memory_storage_without_a_redis_url(self):
        assert type(RateLimiter(get_settings()).storage).__name__ == "MemoryStorage"


@pytest.fixture
def redis_settings():
    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return get_settings().model_copy(
        update={"redis_url": REDIS_URL, "rate_limit_per_token": "3/minute"}
    )


class TestRedisStorage:
    def test_two_api_processes_share_the_counts(self, redis_settings):
        prefix = f"spendlens-test-{uuid.uuid4().hex}"
        first = RateLimiter(redis_settings, key_prefix=prefix)
        second = RateLimiter(redis_settings, key_prefix=prefix)
        assert type(first.storage).__name__ == "RedisStorage"
        item = first.per_token[0]
        assert first.strategy.hit(item, "user", "1") and first.strategy.hit(item, "user", "1")
        assert second.strategy.hit(item, "user", "1")
        assert not second.strategy.hit(item, "user", "1")
        assert not first.strategy.hit(item, "user", "1")

    def test_the_app_answers_429_from_redis_counts(self, app, client, auth_headers, redis_settings):
        app.state.rate_limiter = RateLimiter(redis_settings, key_prefix=uuid.uuid4().hex)
        headers = auth_headers("analyst@acme.example")
        assert [client.get("/api/v1/auth/me", headers=headers).status_code for _ in range(3)] == [
            200
        ] * 3
        assert_429(client.get("/api/v1/auth/me", headers=headers), "3 per minute")

    def test_an_unreachable_redis_lets_requests_through(self, app, client, auth_headers):
        settings = get_settings().model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
        app.state.rate_limiter = RateLimiter(settings)
        assert (
            client.get("/api/v1/auth/me", headers=auth_headers("analyst@acme.example")).status_code
            == 200
        )
