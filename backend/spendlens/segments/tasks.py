"""Periodic RFM tasks (run by `spendlens worker`): the daily schedule that queues a recompute for
every organisation, and the nightly thinning of old snapshots. The recompute job itself is
spendlens.segments.job."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

from spendlens.config import get_settings
from spendlens.db import background_transaction
from spendlens.jobs.queue import queue
from spendlens.segments.repository import organization_ids, thin_old_snapshots
from spendlens.segments.service import queue_daily_recomputes
from spendlens.tenancy import set_org

logger = logging.getLogger("spendlens.jobs")


def day_before(timestamp: int) -> date:
    """The UTC day before the moment `timestamp` (seconds since the epoch)."""
    return datetime.fromtimestamp(timestamp, UTC).date() - timedelta(days=1)


# 00:15 UTC: the previous UTC day (the API's days are UTC days) is complete by then.
@queue.periodic(cron="15 0 * * *")
@queue.task(name="segments.schedule_daily", queueing_lock="segments.schedule_daily")
def schedule_daily_recomputes(timestamp: int) -> int:
    """Queue, for every organisation, the snapshot of the UTC day before `timestamp`."""
    as_of = day_before(timestamp)
    with background_transaction() as conn:
        queued = queue_daily_recomputes(conn, as_of)
    logger.info("queued %s RFM recomputes as of %s", queued, as_of)
    return queued


def thinning_cutoff(timestamp: int, keep_days: int) -> date | None:
    """The first day whose snapshots are all kept (None: keep everything)."""
    if keep_days <= 0:
        return None
    return datetime.fromtimestamp(timestamp, UTC).date() - timedelta(days=keep_days)


# 03:40 UTC, after the daily recomputes.
@queue.periodic(cron="40 3 * * *")
@queue.task(name="segments.thin_snapshots", queueing_lock="segments.thin_snapshots")
def thin_snapshots(timestamp: int) -> int:
    """Thin daily snapshots older than SPENDLENS_RFM_DAILY_SNAPSHOT_DAYS to one a month."""
    cutoff = thinning_cutoff(timestamp, get_settings().rfm_daily_snapshot_days)
    if cutoff is None:
        return 0
    deleted = 0
    with background_transaction() as conn:
        for org_id in organization_ids(conn):
            set_org(conn, org_id)  # one organisation at a time (row-level security)
            deleted += thin_old_snapshots(conn, org_id, before=cutoff)
    if deleted:
        logger.info("thinned %d RFM snapshot(s) dated before %s", deleted, cutoff)
    return deleted
