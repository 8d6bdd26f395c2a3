"""The lock-out under parallel attempts, against a database of its own (committed for real: the
per-test rolled-back transaction is invisible to other connections): of 40 simultaneous wrong
passwords for one email exactly `login_max_failures` are evaluated, the rest are refused."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from spendlens.cli import migrate
from spendlens.config import get_settings
from spendlens.db import get_session, make_engine, session_factory
from spendlens.main import create_app
from tests.builders import create_org, create_user

ATTEMPTS = 40


@pytest.fixture(scope="module")
def committed_engine(create_database):
    url = create_database()
    migrate(url)
    engine = make_engine(url, pool_size=ATTEMPTS)
    yield engine
    engine.dispose()


@pytest.fixture
def parallel_client(committed_engine) -> Iterator[TestClient]:
    # Rate limits out of the way: this is about the per-email count alone.
    settings = get_settings().model_copy(update={"rate_limit_enabled": False})
    app = create_app(settings)
    make_session = session_factory(committed_engine)

    def session_per_request() -> Iterator[Session]:
        session = make_session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    app.dependency_overrides[get_session] = session_per_request
    with TestClient(app) as client:
        yield client


def test_forty_parallel_wrong_passwords_evaluate_exactly_the_limit(
    committed_engine, parallel_client
):
    with session_factory(committed_engine)() as session:
        email = create_user(session, create_org(session)).email
        session.commit()

    def attempt(_: int) -> int:
        response = parallel_client.post(
            "/api/v1/auth/login", data={"username": email, "password": "wrong-password"}
        )
        return response.status_code

    with ThreadPoolExecutor(max_workers=ATTEMPTS) as pool:
        statuses = Counter(pool.map(attempt, range(ATTEMPTS)))

    limit = get_settings().login_max_failures
    assert statuses == {401: limit, 429: ATTEMPTS - limit}
