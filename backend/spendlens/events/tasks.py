"""Periodic event housekeeping (run by `spendlens worker`): monthly partitions of `events` are
created ahead of time, so new events never pile up in the default partition."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from spendlens.db import background_transaction
from spendlens.events.partitions import add_months, ensure_partitions, month_start
from spendlens.jobs.queue import queue

logger = logging.getLogger("spendlens.jobs")

# Months created ahead of the current one.
MONTHS_AHEAD = 3


def create_partitions_ahead(timestamp: int) -> dict[str, int]:
    """The partitions of the month of `timestamp` and MONTHS_AHEAD months after it."""
    this_month = month_start(datetime.fromtimestamp(timestamp, UTC).date())
    with background_transaction() as conn:
        created = ensure_partitions(conn, this_month, add_months(this_month, MONTHS_AHEAD))
    if created:
        logger.info("created event partitions %s", created)
    return created


# 01:05 UTC daily: a missed day (the worker was down) is caught up by the next.
@queue.periodic(cron="5 1 * * *")
@queue.task(name="events.ensure_partitions", queueing_lock="events.ensure_partitions")
def ensure_partitions_ahead(timestamp: int) -> int:
    """Create the current and next months' partitions of `events` where missing."""
    return len(create_partitions_ahead(timestamp))
