"""The `alerts.evaluate` job: evaluate every enabled rule of an organisation over its customers'
signals (queued by the health recompute, the daily schedule and `POST /api/v1/alerts/evaluate`),
then queue the delivery of what it raised."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection

from spendlens.alerts.service import JOB_KIND, evaluate
from spendlens.alerts.signals import load_signals
from spendlens.alerts.tasks import queue_delivery
from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress


@job_kind(JOB_KIND, task="alerts.evaluate")
def execute_evaluation(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """Evaluate in the job's transaction; the deliveries go out once it has committed."""
    with progress.phase("signals"):
        signals = load_signals(conn, job.org_id)
    with progress.phase("evaluate"):
        result = evaluate(conn, job.org_id, signals, datetime.now(UTC))
    progress.set_total(result["customers_with_signals"])
    progress.advance(result["customers_with_signals"])
    if result["deliveries_queued"]:
        queue_delivery(conn, job.org_id)
    return JobOutcome("succeeded", result)
