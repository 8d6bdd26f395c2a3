"""Queries over jobs, always within one organisation."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, func, insert, select, text, update
from sqlalchemy.orm import Session

from spendlens.jobs.runner import run_lock_sql
from spendlens.models import Job

jobs_table = Job.__table__


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


def insert_job(
    conn: Connection,
    org_id: int,
    *,
    kind: str,
    params: dict[str, Any],
    created_by: int | None,
    total: int | None,
) -> int:
    return conn.execute(
        insert(jobs_table)
        .values(org_id=org_id, kind=kind, params=params, created_by=created_by, total=total)
        .returning(jobs_table.c.id)
    ).scalar_one()


def set_queue_job_id(conn: Connection, org_id: int, job_id: int, queue_job_id: int) -> None:
    conn.execute(
        update(jobs_table)
        .where(jobs_table.c.org_id == org_id, jobs_table.c.id == job_id)
        .values(queue_job_id=queue_job_id)
    )
