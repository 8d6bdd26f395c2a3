"""Helpers for import tests: upload through the API and run the queued job in the test's own
transaction (so everything is rolled back afterwards)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

from sqlalchemy import Connection

from spendlens.imports.job import execute_import
from spendlens.jobs.runner import Progress, execute_job

IMPORTS = "/api/v1/imports"
SAMPLES = Path("/work/shared/samples")
if not SAMPLES.exists():  # the repository's own copy
    SAMPLES = Path(__file__).resolve().parents[3] / "db" / "samples"
ONLINE_RETAIL_SAMPLE = SAMPLES / "online_retail_sample.csv"


def upload(client, headers, content: bytes | str, filename: str = "data.csv", **fields):
    if isinstance(content, str):
        content = content.encode()
    data = {
        key: str(value).lower() if isinstance(value, bool) else value
        for key, value in fields.items()
    }
    return client.post(
        IMPORTS, headers=headers, files={"file": (filename, content, "text/csv")}, data=data
    )


def run_job_here(connection: Connection, org_id: int, job_id: int):
    """Run a queued import job on the test's connection, as a worker would."""
    progress = Progress(lambda: nullcontext(connection), org_id, job_id)
    with connection.begin_nested():
        return execute_job(connection, progress, org_id, job_id, execute_import)
