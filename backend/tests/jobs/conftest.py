"""Fixtures for tests that need workers: a database of their own, committed for real."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from spendlens.cli import migrate
from spendlens.config import get_settings
from spendlens.db import make_engine, session_factory
from spendlens.models import Organization
from spendlens.tenancy import bind_org

from tests.builders import create_org

BACKEND = Path(__file__).resolve().parents[2]
ROOT = BACKEND.parent


@dataclass
class WorkerDatabase:
    url: str
    engine: Engine  # the owner's: tests build and check data with it
    app_engine: Engine  # the application role's, as the API and the workers connect
    logs: Path

    def session(self):
        return session_factory(self.engine)()

    def app_session(self, org_id: int):
        """A session of the application role in `org_id` (row-level security), as a request's."""
        session = session_factory(self.app_engine)()
        bind_org(session, org_id)
        return session

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
    app_url = get_settings().model_copy(update={"database_url": url}).app_sqlalchemy_url
    app_engine = make_engine(app_url, pool_size=2)
    yield WorkerDatabase(url, engine, app_engine, tmp_path_factory.mktemp("worker-logs"))
    app_engine.dispose()
    engine.dispose()


@pytest.fixture
def start_worker(worker_db) -> Iterator[Callable[..., subprocess.Popen]]:
    """Start `spendlens worker ARGS...` on the worker database; stopped after the test. The
    `tests` package is importable in it, for `--import tests.jobs.<module>`."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        path = os.pathsep.join(filter(None, [str(BACKEND), os.environ.get("PYTHONPATH")]))
        env = dict(
            os.environ,
            SPENDLENS_DATABASE_URL=worker_db.url,
            SPENDLENS_LOG_LEVEL="INFO",
            PYTHONPATH=path,
        )
        log = open(worker_db.logs / f"worker-{time.monotonic_ns()}.log", "wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "spendlens.cli", "worker", *args],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
