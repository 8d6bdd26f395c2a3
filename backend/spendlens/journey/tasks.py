"""Periodic journey tasks (run by `spendlens worker`): customers' `lifecycle_stage` follows churn
deadlines that passed with no event, and customers left pending without a job get one."""

from __future__ import annotations

import logging

from spendlens.db import background_transaction
from spendlens.jobs.queue import queue
from spendlens.journey import repository
from spendlens.journey.service import queue_if_pending, recompute_rollups, set_org

logger = logging.getLogger("spendlens.jobs")


@queue.periodic(cron="*/5 * * * *")
@queue.task(name="journey.sync_current_stages", queueing_lock="journey.sync_current_stages")
def sync_current_stages(timestamp: int) -> int:
    """Every 5 minutes, per organisation: `customers.lifecycle_stage` := the derived stage now
    (a churn deadline passes without any event), and a `journey` job for customers still
    pending with no job to take them (an ingest that raced a finishing job)."""
    with background_transaction() as conn:
        org_ids = repository.orgs(conn)
    changed = 0
    for org_id in org_ids:
        with background_transaction() as conn:
            set_org(conn, org_id)
            changed += repository.sync_lifecycle_stages(conn, org_id)
            queue_if_pending(conn, org_id)
    if changed:
        logger.info("lifecycle stage of %d customer(s) followed their derived stage", changed)
    return changed


# 02:50 UTC, a quiet hour.
@queue.periodic(cron="50 2 * * *")
@queue.task(name="journey.reconcile_rollups", queueing_lock="journey.reconcile_rollups")
def reconcile_rollups(timestamp: int) -> int:
    """Nightly, per organisation: recompute both rollups in full from the stage intervals. The
    jobs keep them exact incrementally; this drops what deleted customers (whose intervals went
    with them) left behind."""
    with background_transaction() as conn:
        org_ids = repository.orgs(conn)
    for org_id in org_ids:
        with background_transaction() as conn:
            set_org(conn, org_id)
            recompute_rollups(conn, org_id)
    return len(org_ids)
