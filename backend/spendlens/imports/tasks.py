"""Periodic housekeeping of imports (run by `spendlens worker`): the hourly clean-up of uploads no
job will read again. The import job itself is spendlens.imports.job."""

from __future__ import annotations

import logging

from spendlens.db import background_transaction
from spendlens.imports.repository import drop_stale_staging_tables
from spendlens.jobs.queue import queue

logger = logging.getLogger("spendlens.imports")

# How long the upload of a job that failed unexpectedly is kept for a retry.
STAGING_RETENTION_DAYS = 7


@queue.periodic(cron="17 * * * *")
@queue.task(name="imports.drop_stale_staging", queueing_lock="imports.drop_stale_staging")
def drop_stale_staging(timestamp: int) -> int:
    """Hourly: drop staged uploads of finished jobs, and of failed ones after the retention."""
    with background_transaction() as conn:
        dropped = drop_stale_staging_tables(conn, retention_days=STAGING_RETENTION_DAYS)
    if dropped:
        logger.info("dropped %d stale staging table(s): %s", len(dropped), ", ".join(dropped))
    return len(dropped)
