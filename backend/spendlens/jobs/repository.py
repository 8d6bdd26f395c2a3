"""Queries over jobs, always within one organisation."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from spendlens.jobs.runner import run_lock_sql
from spendlens.models import Job


def get(session: Session, org_id: int, job_id: int) -> Job | None:
    return session.get(Job, (org_id, job_id))


def get_for_update(session: Session, org_id: int, job_id: int) -> Job | None:
    query = select(Job).where(Job.org_id == org_id, Job.id == job_id).with_for_update()
    return session.execute(query).scalar_one_or_none()


def list_page(
    session: Session,
    org_id: int,
    *,
    kind: str | None,
    state: str | None,
    skip: int,
    limit: int,
) -> tuple[list[Job], int]:
    conditions = [Job.org_id == org_id]
    if kind:
        conditions.append(Job.kind == kind)
    if state:
        conditions.append(Job.state == state)
    total = session.execute(select(func.count()).select_from(Job).where(*conditions)).scalar_one()
    items = session.execute(
        select(Job)
        .where(*conditions)
        .order_by(Job.created_at.desc(), Job.id.desc())
        .offset(skip)
        .limit(limit)
    ).scalars()
    return list(items), total


def claim_run_lock(session: Session, job_id: int) -> bool:
    """Take the job's run lock until the end of this transaction; False while a worker runs it.

    A worker holds this lock for as long as its job's transaction is open, so a free lock on a
    `running` job means its worker died.
    """
    return session.execute(
        text(run_lock_sql("pg_try_advisory_xact_lock")), {"job_id": job_id}
    ).scalar_one()
