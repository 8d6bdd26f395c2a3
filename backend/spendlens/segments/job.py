"""The `rfm` job: store one RFM snapshot (queued by the API, the daily schedule, imports and
`spendlens seed`; see spendlens.segments.service.queue_recompute)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection

from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress
from spendlens.segments.service import JOB_KIND, recompute


@job_kind(JOB_KIND, task="segments.recompute")
def execute_recompute(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """The `rfm` job: one snapshot, written in the job's transaction."""
    result = recompute(conn, job.org_id, date.fromisoformat(job.params["as_of"]), job_id=job.id)
    progress.set_total(result["customers"])
    progress.advance(result["customers"])
    return JobOutcome("succeeded", result)
