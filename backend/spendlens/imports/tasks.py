"""The import job as a procrastinate task (run by `spendlens worker`)."""

from __future__ import annotations

from spendlens.imports.service import execute_import
from spendlens.jobs.queue import queue
from spendlens.jobs.runner import run_job


@queue.task(name="imports.run")
def run_import(org_id: int, job_id: int) -> str | None:
    """Run one import job: its writes commit together, or not at all."""
    return run_job(org_id, job_id, execute_import)
