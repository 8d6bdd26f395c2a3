"""The `health` job: store one computation of every customer's health (queued by the API, the
nightly schedule, imports and event batches; see spendlens.health.service.queue_recompute)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from spendlens.alerts import repository as alert_rules
from spendlens.alerts.service import queue_evaluation
from spendlens.health.service import JOB_KIND, recompute
from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress


@job_kind(JOB_KIND, task="health.recompute")
def execute_recompute(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """The `health` job: one computation, written in the job's transaction; then the alert
    rules are evaluated over the new scores (an `alerts.evaluate` job, when any rule is on)."""
    result = recompute(conn, job.org_id, date.fromisoformat(job.params["as_of"]), job_id=job.id)
    progress.set_total(result["customers"])
    progress.advance(result["customers"])
    if alert_rules.enabled_rules(conn, job.org_id):
        result["alerts_job_id"] = queue_evaluation(conn, job.org_id, trigger="health")
    return JobOutcome("succeeded", result)
