"""The CLV fit job as a procrastinate task (run by `spendlens worker`)."""

from __future__ import annotations

from spendlens.clv.service import execute_fit
from spendlens.jobs.queue import queue
from spendlens.jobs.runner import run_job


@queue.task(name="clv.fit")
def run_fit(org_id: int, job_id: int) -> str | None:
    """Run one CLV fit job: the fit and its estimates commit together, or not at all."""
    return run_job(org_id, job_id, execute_fit)
