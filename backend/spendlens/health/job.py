"""The `health` job: store one computation of every customer's health (queued by the API, the
nightly schedule, imports and event batches; see spendlens.health.service.queue_recompute)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from spendlens.health.service import JOB_KIND, recompute
from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress


@job_kind(JOB_KIND, task="health.recompute")
def execute_recompute(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """The `health` job: one computation, written in the job's transaction."""
    result = recompute(conn, job.org_id, date.fromisoformat(job.params["as_of"]), job_id=job.id)
    progress.set_total(result["customers"])
    progress.advance(result["customers"])
    return JobOutcome("succeeded", result)
