"""The jobs tests' fixtures for a real worker on a database of its own, reused by the CLV tests."""

from tests.jobs.conftest import start_worker, worker_db  # noqa: F401
