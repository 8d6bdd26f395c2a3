"""Fixtures for tests that need workers: a database of their own, committed for real."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from spendlens.cli import migrate
from spendlens.db import make_engine, session_factory
from spendlens.models import Organization

from tests.builders import create_org


@dataclass
class WorkerDatabase:
    url: str
    engine: Engine
    logs: Path

    def session(self):
        return session_factory(self.engine)()

    def org(self, **overrides) -> Organization:
        with self.session() as session:
            org = create_org(session, timezone="Europe/London", base_currency="GBP", **overrides)
            session.commit()
            return org


@pytest.fixture(scope="session")
def worker_db(create_database, tmp_path_factory) -> Iterator[WorkerDatabase]:
    url = create_database()
    migrate(url)
    engine = make_engine(url, pool_size=2)
    yield WorkerDatabase(url, engine, tmp_path_factory.mktemp("worker-logs"))
    engine.dispose()
