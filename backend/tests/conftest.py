"""Test fixtures: one real PostgreSQL database per run, migrated and seeded once; each test
runs inside a transaction that is rolled back at its end.

The server is TEST_DATABASE_URL when reachable, otherwise a throwaway embedded PostgreSQL.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

# Settings are read from the environment: pin them before any spendlens module caches them.
os.environ["SPENDLENS_ENV"] = "test"
os.environ["SPENDLENS_SECRET_KEY"] = "test-secret-key-not-for-production-0123456789"
os.environ.pop("DATABASE_URL", None)

from spendlens.cli import _use_database  # noqa: E402
from spendlens.config import get_settings  # noqa: E402
from spendlens.db import (  # noqa: E402
    get_engine,
    get_session,
    get_stream_connection,
    make_engine,
)
from spendlens.main import create_app  # noqa: E402
from spendlens.models import Organization, User  # noqa: E402
from spendlens.tenancy import ORG_SETTING, app_role_name  # noqa: E402
from spendlens.testing import (  # noqa: E402
    DEMO_AS_OF,
    DatabaseFactory,
    migrated_and_seeded,
    test_server_url,
)
from tests.builders import headers_for  # noqa: E402


@pytest.fixture(scope="session")
def create_database() -> Iterator[Callable[[], str]]:
    """Makes fresh, empty databases on the test server; all are dropped at the end of the run."""
    factory = DatabaseFactory(test_server_url())
    yield factory.create
    factory.drop_all()


@pytest.fixture(scope="session")
def database_url(create_database: Callable[[], str]) -> str:
    """The run's database: migrated to head and seeded with the demo data as of DEMO_AS_OF."""
    url = migrated_and_seeded(create_database())
    _use_database(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Engine]:
    """The owner's engine (bypasses row-level security): tests build and check data with it,
    across organisations. The app under test connects as the application role."""
    engine = make_engine(database_url, pool_size=5)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_engine(database_url: str) -> Iterator[Engine]:
    """The application role's engine, as the API and the worker use it."""
    engine = get_engine()
    assert str(engine.url.database) in database_url
    assert engine.url.username == app_role_name(get_settings())
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def app_role(database_url: str) -> str:
    return app_role_name(get_settings())


@contextmanager
def as_app_role(connection: Connection, role: str) -> Iterator[Connection]:
    """The test's (owner) connection acting as the application role for the block: what the
    app does there is checked by row-level security and the role's grants."""
    connection.exec_driver_sql(f'SET ROLE "{role}"')
    try:
        yield connection
    finally:
        try:
            connection.exec_driver_sql("RESET ROLE")
        except DBAPIError:  # the transaction failed: its rollback resets the role anyway
            pass


@pytest.fixture
def connection(engine: Engine) -> Iterator[Connection]:
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def session(connection: Connection) -> Iterator[Session]:
    # Commits inside the code under test only release a SAVEPOINT; the test's outer
    # transaction is rolled back afterwards, so every test starts from the seeded state.
    s = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    yield s
    s.close()


@pytest.fixture
def app(session: Session, connection: Connection, app_role: str) -> FastAPI:
    application = create_app(get_settings())

    def session_override() -> Iterator[Session]:
        # What the test built so far counts as committed (released into the outer transaction),
        # so a request that fails rolls back only its own work, as it would in production.
        session.commit()
        # The request runs as the application role, under row-level security, as in production;
        # its organisation is whatever it sets (not what an earlier request left behind).
        session.info.pop("org_id", None)
        with as_app_role(connection, app_role):
            connection.execute(text(f"SELECT set_config('{ORG_SETTING}', '', true)"))
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    application.dependency_overrides[get_session] = session_override
    # Streamed responses read through the test's connection too, so they see its rows (as the
    # application role, like the request).
    application.dependency_overrides[get_stream_connection] = lambda: lambda: as_app_role(
        connection, app_role
    )
    return application


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


@dataclass
class Demo:
    acme: Organization
    globex: Organization
    as_of: date


@pytest.fixture
def demo(session: Session) -> Demo:
    orgs = {o.slug: o for o in session.execute(select(Organization)).scalars()}
    return Demo(acme=orgs["acme-retail"], globex=orgs["globex"], as_of=DEMO_AS_OF)


@pytest.fixture
def auth_headers(session: Session) -> Callable[[str], dict[str, str]]:
    """Bearer headers for a demo user, issued directly (no password hashing per test)."""

    def headers(email: str) -> dict[str, str]:
        user = session.execute(select(User).where(User.email == email)).scalar_one()
        return headers_for(user)

    return headers


@pytest.fixture
def fresh_database_url(create_database: Callable[[], str]) -> str:
    """An empty database of its own, for tests of migrations or seeding."""
    return create_database()


@pytest.fixture
def scratch_engine(fresh_database_url: str) -> Iterator[Engine]:
    eng = make_engine(fresh_database_url, pool_size=2)
    yield eng
    eng.dispose()
