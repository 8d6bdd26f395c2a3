"""Business rules for jobs: reading them within the organisation, and retrying one that failed or
whose worker died."""

from __future__ import annotations

from sqlalchemy.orm import Session

from spendlens.errors import Conflict, NotFound
from spendlens.jobs import repository
from spendlens.jobs.queue import queue_status, requeue
from spendlens.jobs.registry import defer_run
from spendlens.jobs.schemas import JobOut, JobState, JobSummary
from spendlens.models import Job


def get_job(session: Session, org_id: int, job_id: int) -> JobOut:
    job = repository.get(session, org_id, job_id)
    if job is None:
        raise NotFound("Job not found")
    return JobOut.model_validate(job)


def list_jobs(
    session: Session,
    org_id: int,
    *,
    kind: str | None,
    state: JobState | None,
    skip: int,
    limit: int,
) -> tuple[list[JobSummary], int]:
    items, total = repository.list_page(
        session, org_id, kind=kind, state=state.value if state else None, skip=skip, limit=limit
    )
    return [JobSummary.model_validate(job) for job in items], total


def _check_retryable(session: Session, job: Job) -> None:
    if job.state == JobState.failed.value:
        if job.result and job.result.get("retryable") is False:
            raise Conflict("This job failed on its input; running it again would fail the same way")
        return
    if job.state == JobState.running.value:
        if repository.claim_run_lock(session, job.id):
            return  # its worker died mid-job: nothing of it was committed
        raise Conflict("The job is running")
    raise Conflict(f"Only failed or stalled jobs can be retried; this one is {job.state}")


def retry_job(session: Session, org_id: int, job_id: int) -> JobOut:
    """Queue a failed or stalled job again; it starts over from its staged input."""
    job = repository.get_for_update(session, org_id, job_id)
    if job is None:
        raise NotFound("Job not found")
    _check_retryable(session, job)
    job.state = JobState.queued.value
    job.processed = 0
    job.errors = []
    job.error_count = 0
    job.result = None
    job.started_at = None
    job.finished_at = None
    session.flush()
    conn = session.connection()
    status = queue_status(conn, job.queue_job_id) if job.queue_job_id else None
    if status in ("doing", "failed"):
        # The same queue job again: its lock (one import per organisation at a time) must not
        # stay held by a `doing` job whose worker is gone.
        requeue(conn, job.queue_job_id)
    elif status != "todo":
        job.queue_job_id = defer_run(conn, job.kind, org_id, job.id)
    session.flush()
    return JobOut.model_validate(job)
