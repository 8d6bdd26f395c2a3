"""Real-PostgreSQL provisioning for test suites (the API's and the dashboard's).

A run uses TEST_DATABASE_URL when that server answers, otherwise a throwaway embedded PostgreSQL;
each run works in databases of its own that are dropped at the end.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from datetime import date
from pathlib import Path

import psycopg2

from spendlens.local_db import start_embedded_postgres, with_database

DEFAULT_TEST_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
# The demo data of every test run ends on this day, so figures do not move with the calendar.
DEMO_AS_OF = date(2026, 6, 30)


def reachable(url: str) -> bool:
    try:
        psycopg2.connect(url, connect_timeout=3).close()
        return True
    except psycopg2.OperationalError:
        return False


def test_server_url() -> str:
    """Admin URL of the PostgreSQL server for this run."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_TEST_SERVER)
    if reachable(url):
        return url
    folder = Path(tempfile.mkdtemp(prefix="spendlens-test-pg-"))
    return start_embedded_postgres(folder / "data", delete_on_exit=True)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now (for servers in tests/benches)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class DatabaseFactory:
    """Creates empty databases on one server and drops them all on `drop_all()`."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.made: list[str] = []

    def _admin(self):
        conn = psycopg2.connect(self.server_url)
        conn.autocommit = True
        return conn

    def create(self) -> str:
        name = f"spendlens_test_{uuid.uuid4().hex[:10]}"
        conn = self._admin()
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        self.made.append(name)
        return with_database(self.server_url, name)

    def drop_all(self) -> None:
        conn = self._admin()
        with conn.cursor() as cur:
            for name in self.made:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
        self.made.clear()


def migrated_and_seeded(url: str, *, as_of: date = DEMO_AS_OF, scale: float = 1.0) -> str:
    """Migrate `url` to head and load the demo data; returns `url`."""
    from spendlens.cli import migrate
    from spendlens.db import make_engine
    from spendlens.seed import seed_demo

    migrate(url)
    engine = make_engine(url, pool_size=1)
    try:
        seed_demo(engine, as_of=as_of, scale=scale)
    finally:
        engine.dispose()
    return url
