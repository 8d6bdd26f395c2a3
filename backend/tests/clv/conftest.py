"""The jobs tests' fixtures for a real worker on a database of its own, reused by the CLV tests."""

from tests.jobs.conftest import worker_db  # noqa: F401
from tests.jobs.test_workers import start_worker  # noqa: F401
