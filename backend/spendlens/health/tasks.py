"""Periodic health task (run by `spendlens worker`): the nightly recompute of every
organisation. The recompute job itself is spendlens.health.job."""

from __future__ import annotations

import logging

from spendlens.db import background_transaction
from spendlens.health.service import queue_nightly_recomputes
from spendlens.jobs.queue import queue
from spendlens.segments.tasks import day_before

logger = logging.getLogger("spendlens.jobs")


# 00:20 UTC: the previous UTC day is complete; after the RFM schedule (00:15).
@queue.periodic(cron="20 0 * * *")
@queue.task(name="health.schedule_nightly", queueing_lock="health.schedule_nightly")
def schedule_nightly_recomputes(timestamp: int) -> int:
    """Queue, for every organisation, the health computation of the UTC day before
    `timestamp` (it replaces the day's earlier, partial computations)."""
    as_of = day_before(timestamp)
    with background_transaction() as conn:
        queued = queue_nightly_recomputes(conn, as_of)
    logger.info("queued %s health recomputes as of %s", queued, as_of)
    return queued
