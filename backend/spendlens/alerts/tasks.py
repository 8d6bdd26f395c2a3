"""Alert tasks of `spendlens worker`: sending due deliveries (right after an evaluation, and every
minute for retries and escalations), and a daily evaluation of every organisation's rules."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Connection

from spendlens.alerts import repository
from spendlens.alerts.delivery import deliver_due
from spendlens.alerts.service import escalate_due, queue_daily_evaluations
from spendlens.config import get_settings
from spendlens.db import background_transaction
from spendlens.jobs.queue import defer, queue
from spendlens.tenancy import set_org

logger = logging.getLogger("spendlens.jobs")

DELIVER_TASK = "alerts.deliver"
# Deliveries attempted per transaction: each stays locked (and unsent by another worker) until
# its transaction commits the outcome.
BATCH = 10
# At most this many batches per organisation and run; the next run goes on.
MAX_BATCHES = 100


def deliver_org(org_id: int, now: datetime | None = None) -> int:
    """Escalate what is due and send the organisation's due deliveries; returns how many were
    attempted."""
    settings = get_settings()
    now = now or datetime.now(UTC)
    with background_transaction() as conn:
        set_org(conn, org_id)
        escalate_due(conn, org_id, now)
    attempted = 0
    for _ in range(MAX_BATCHES):
        with background_transaction() as conn:
            set_org(conn, org_id)
            done = deliver_due(conn, org_id, now, settings, limit=BATCH)
        attempted += done
        if done < BATCH:
            break
    return attempted


def queue_delivery(conn: Connection, org_id: int) -> int:
    """Queue an immediate delivery run for the organisation in `conn`'s transaction."""
    return defer(conn, DELIVER_TASK, lock=f"{DELIVER_TASK}:org:{org_id}", org_id=org_id)


@queue.task(name=DELIVER_TASK)
def deliver(org_id: int) -> int:
    """Send the organisation's due alert deliveries (queued after an evaluation raised some)."""
    return deliver_org(org_id)


@queue.periodic(cron="* * * * *")
@queue.task(name="alerts.sweep", queueing_lock="alerts.sweep")
def sweep(timestamp: int) -> int:
    """Every minute: escalations that are due, and retries whose backoff has passed."""
    with background_transaction() as conn:
        org_ids = repository.organization_ids(conn)
    attempted = 0
    for org_id in org_ids:
        try:
            attempted += deliver_org(org_id)
        except Exception:  # one organisation's trouble must not stop the others'
            logger.exception("alert delivery sweep failed for organisation %s", org_id)
    return attempted


# 01:30 UTC: spend_drop rules need no health recompute to be evaluated once a day.
@queue.periodic(cron="30 1 * * *")
@queue.task(name="alerts.schedule_daily", queueing_lock="alerts.schedule_daily")
def schedule_daily_evaluations(timestamp: int) -> int:
    """Queue an `alerts.evaluate` job for every organisation with an enabled rule."""
    with background_transaction() as conn:
        queued = queue_daily_evaluations(conn)
    logger.info("queued %s alert evaluations", queued)
    return queued
