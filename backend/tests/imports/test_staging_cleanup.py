"""The hourly clean-up of staged uploads: only tables no job will read again are dropped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from spendlens.imports.repository import drop_stale_staging_tables, staging_table
from spendlens.models import Job
from tests.builders import create_org


def _job(session, org, state: str, finished_days_ago: float | None = None) -> Job:
    finished = None
    if finished_days_ago is not None:
        finished = datetime.now(UTC) - timedelta(days=finished_days_ago)
    job = Job(
        org_id=org.id,
        kind="import",
        state=state,
        params={},
        processed=0,
        errors=[],
        error_count=0,
        attempts=1,
        finished_at=finished,
    )
    session.add(job)
    session.flush()
    session.connection().exec_driver_sql(f"CREATE TABLE {staging_table(job.id)} (c1 text)")
    return job


def _exists(session, name: str) -> bool:
    return session.execute(text("SELECT to_regclass(:n) IS NOT NULL"), {"n": name}).scalar_one()


def test_only_uploads_no_job_will_read_again_are_dropped(session):
    org = create_org(session)
    queued = _job(session, org, "queued")
    running = _job(session, org, "running")
    failed_recently = _job(session, org, "failed", finished_days_ago=1)
    failed_long_ago = _job(session, org, "failed", finished_days_ago=8)
    succeeded = _job(session, org, "succeeded", finished_days_ago=0)
    deleted = _job(session, org, "failed", finished_days_ago=0)
    session.delete(deleted)
    session.flush()

    dropped = drop_stale_staging_tables(session.connection(), retention_days=7)

    gone = {failed_long_ago.id, succeeded.id, deleted.id}
    kept = {queued.id, running.id, failed_recently.id}
    assert {staging_table(i) for i in gone} <= set(dropped)
    assert not {staging_table(i) for i in kept} & set(dropped)
    for job_id in gone:
        assert not _exists(session, staging_table(job_id))
    for job_id in kept:
        assert _exists(session, staging_table(job_id))
    # Nothing else in the schema is touched, and a second pass finds nothing more of ours.
    again = drop_stale_staging_tables(session.connection(), retention_days=7)
    assert not {staging_table(i) for i in gone | kept} & set(again)
