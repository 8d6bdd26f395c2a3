"""The `journey` job: rebuild the stages of the customers whose events changed, and the rollups
(queued by the event ingest, by a settings change and by the periodic safety net; see
spendlens.journey.service.stages_changed)."""

from __future__ import annotations

from sqlalchemy import Connection

from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress
from spendlens.journey.service import JOB_KIND, run_pending


@job_kind(JOB_KIND, task="journey.rebuild")
def execute_rebuild(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """Rebuild every pending customer of the organisation in the job's transaction."""
    with progress.phase("rebuild"):
        result = run_pending(conn, job.org_id)
    progress.set_total(result.customers)
    progress.advance(result.customers)
    return JobOutcome("succeeded", result.as_dict())
