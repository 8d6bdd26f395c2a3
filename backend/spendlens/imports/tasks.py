"""The import job as a procrastinate task (run by `spendlens worker`), and the hourly
clean-up of uploads no job will read again."""

from __future__ import annotations

import logging

from spendlens.db import get_engine
from spendlens.imports.repository import drop_stale_staging_tables
from spendlens.imports.service import execute_import
from spendlens.jobs.queue import queue
from spendlens.jobs.runner import run_job

logger = logging.getLogger("spendlens.imports")

# How long the upload of a job that failed unexpectedly is kept for a retry.
STAGING_RETENTION_DAYS = 7


@queue.task(name="imports.run")
def run_import(org_id: int, job_id: int) -> str | None:
    """Run one import job: its writes commit together, or not at all."""
    return run_job(org_id, job_id, execute_import)


@queue.periodic(cron="17 * * * *")
@queue.task(name="imports.drop_stale_staging", queueing_lock="imports.drop_stale_staging")
def drop_stale_staging(timestamp: int) -> int:
    """Hourly: drop staged uploads of finished jobs, and of failed ones after the retention."""
    with get_engine().begin() as conn:
        dropped = drop_stale_staging_tables(conn, retention_days=STAGING_RETENTION_DAYS)
    if dropped:
        logger.info("dropped %d stale staging table(s): %s", len(dropped), ", ".join(dropped))
    return len(dropped)
