"""The job runner and the queue's housekeeping, on a database of their own: a job whose work
raises is recorded as failed (and retryable) with nothing written; finished jobs are not run
again; procrastinate's stalled-job retry requeues the jobs of dead workers."""

from __future__ import annotations

import asyncio
import time

import pytest
from procrastinate import JobContext, PsycopgConnector
from procrastinate import jobs as queue_jobs
from sqlalchemy import Connection, func, select, text

from spendlens.jobs.queue import libpq_dsn, queue
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress, run_job
from spendlens.jobs.tasks import retry_stalled_jobs
from spendlens.models import Customer, Job


def new_job(db, org, **overrides) -> int:
    with db.session() as session:
        values = dict(org_id=org.id, kind="import", state="queued", params={}, processed=0)
        values.update(errors=[], error_count=0, attempts=0, total=10)
        values.update(overrides)
        job = Job(**values)
        session.add(job)
        session.commit()
        return job.id


def read_job(db, org, job_id) -> Job:
    with db.session() as session:
        return session.get(Job, (org.id, job_id))


def test_work_that_raises_fails_the_job_and_writes_nothing(worker_db):
    org = worker_db.org()
    job_id = new_job(worker_db, org)
    seen: list[tuple[int, int | None]] = []

    def work(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
        conn.execute(
            text("INSERT INTO customers (org_id, name, lifecycle_stage) VALUES (:o, 'x', 'lead')"),
            {"o": org.id},
        )
        progress.set_total(10)
        progress.advance(5)
        # Progress is committed on its own connection: visible while the job runs.
        assert read_job(worker_db, org, job_id).processed == 5
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError):
        run_job(
            org.id, job_id, work, engine=worker_db.app_engine, on_progress=lambda *a: seen.append(a)
        )
    job = read_job(worker_db, org, job_id)
    assert job.state == "failed" and job.attempts == 1 and job.finished_at is not None
    assert job.result == {"error": "RuntimeError: disk on fire", "retryable": True}
    assert seen == [(0, 10), (5, 10)]
    with worker_db.session() as session:
        count = select(func.count()).select_from(Customer).where(Customer.org_id == org.id)
        assert session.execute(count).scalar_one() == 0


def test_a_finished_job_is_not_run_again(worker_db):
    org = worker_db.org()
    job_id = new_job(worker_db, org, state="succeeded")

    def work(conn, job, progress):  # pragma: no cover - must not run
        raise AssertionError("ran a finished job")

    assert run_job(org.id, job_id, work, engine=worker_db.app_engine) is None
    assert run_job(org.id, 987654321, work, engine=worker_db.app_engine) is None


def test_stalled_jobs_of_dead_workers_are_requeued(worker_db):
    with worker_db.engine.begin() as conn:
        dead = conn.execute(
            text(
                "INSERT INTO procrastinate_workers (last_heartbeat) "
                "VALUES (now() - interval '10 minutes') RETURNING id"
            )
        ).scalar_one()
        alive = conn.execute(
            text("INSERT INTO procrastinate_workers DEFAULT VALUES RETURNING id")
        ).scalar_one()
        ids = []
        for worker in (dead, alive):
            ids.append(
                conn.execute(
                    text(
                        "INSERT INTO procrastinate_jobs (queue_name, task_name, status, worker_id)"
                        " VALUES ('default', 'imports.run', 'doing', :w) RETURNING id"
                    ),
                    {"w": worker},
                ).scalar_one()
            )

    async def housekeeping() -> int:
        connector = PsycopgConnector(conninfo=libpq_dsn(worker_db.url), min_size=1, max_size=2)
        with queue.replace_connector(connector):
            async with queue.open_async():
                job = queue_jobs.Job(
                    id=1,
                    queue="default",
                    lock=None,
                    queueing_lock=None,
                    task_name="jobs.retry_stalled",
                    task_kwargs={},
                )
                context = JobContext(
                    app=queue, job=job, start_timestamp=time.time(), abort_reason=lambda: None
                )
                return await retry_stalled_jobs(context, int(time.time()))

    assert asyncio.run(housekeeping()) == 1
    with worker_db.engine.connect() as conn:
        statuses = dict(
            conn.execute(
                text("SELECT id, status::text FROM procrastinate_jobs WHERE id = ANY(:ids)"),
                {"ids": ids},
            ).all()
        )
        conn.execute(text("DELETE FROM procrastinate_jobs WHERE id = ANY(:ids)"), {"ids": ids})
        conn.commit()
    assert statuses == {ids[0]: "todo", ids[1]: "doing"}
