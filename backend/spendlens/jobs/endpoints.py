"""HTTP routes of /api/v1/jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from spendlens.auth.dependencies import AnalystUser, CurrentUser, OrgScope
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.jobs import service
from spendlens.jobs.schemas import JobOut, JobState, JobSummary
from spendlens.kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=Page[JobSummary], responses=error_responses(401, 422))
def list_jobs(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    kind: Annotated[str | None, Query(max_length=32, description="e.g. `import`")] = None,
    state: Annotated[JobState | None, Query()] = None,
) -> Page[JobSummary]:
    """The organisation's jobs, newest first."""
    items, total = service.list_jobs(
        session, org_id, kind=kind, state=state, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get("/{job_id}", response_model=JobOut, responses=error_responses(401, 404, 422))
def get_job(job_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep) -> JobOut:
    """A job's state, progress (processed of total), problems found and result."""
    return service.get_job(session, org_id, job_id)


@router.post(
    "/{job_id}/retry",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 404, 409, 422),
)
def retry_job(job_id: int, user: AnalystUser, org_id: OrgScope, session: SessionDep) -> JobOut:
    """Run a failed job, or one whose worker died, again from its input (analysts and admins)."""
    return service.retry_job(session, org_id, job_id)
