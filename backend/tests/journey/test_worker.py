"""A real `spendlens worker` runs the `journey` job the ingest queues: stages appear for the
customers of a committed batch, and the periodic tasks are scheduled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from spendlens.events.service import ingest
from spendlens.jobs.queue import queue
from spendlens.journey import tasks  # noqa: F401  (registers the periodic tasks)
from spendlens.models import Job
from tests.jobs.conftest import start_worker, worker_db  # noqa: F401  (fixtures)
from tests.jobs.test_workers import wait_for


def test_a_worker_rebuilds_the_stages_of_an_ingested_batch(worker_db, start_worker):  # noqa: F811
    start_worker()
    org = worker_db.org()
    paid = datetime.now(UTC) - timedelta(days=3)
    events = [
        {
            "event_id": "6f1c2d7e-0000-4000-8000-000000000001",
            "type": "signed_up",
            "occurred_at": (paid - timedelta(days=2)).isoformat(),
            "customer": "w-1",
            "properties": {},
        },
        {
            "event_id": "6f1c2d7e-0000-4000-8000-000000000002",
            "type": "payment_succeeded",
            "occurred_at": paid.isoformat(),
            "customer": "w-1",
            "properties": {"payment_id": "wp-1", "amount": "12.00", "currency": "GBP"},
        },
    ]
    with worker_db.session() as session:
        result = ingest(session, org.id, events)
        session.commit()
    assert len(result.touched) == 1

    def finished():
        with worker_db.session() as session:
            jobs = session.execute(
                select(Job).where(Job.org_id == org.id, Job.kind == "journey")
            ).scalars()
            return [job for job in jobs if job.state in ("succeeded", "failed")]

    (job,) = wait_for(finished, what="the journey job")
    assert job.state == "succeeded", job.result
    assert job.result["changed_customers"] == 1
    with worker_db.engine.connect() as conn:
        stages = conn.execute(
            text("SELECT stage FROM customer_stages WHERE org_id = :org ORDER BY valid_from"),
            {"org": org.id},
        ).scalars()
        assert list(stages) == ["lead", "customer", "churned"]  # the deadline stored ahead
        assert (
            conn.execute(
                text("SELECT lifecycle_stage FROM customers WHERE org_id = :org"),
                {"org": org.id},
            ).scalar_one()
            == "customer"
        )
        assert (
            conn.execute(
                text("SELECT count(*) FROM journey_pending WHERE org_id = :org"), {"org": org.id}
            ).scalar_one()
            == 0
        )


def test_the_periodic_tasks_are_scheduled():
    crons = {p.task.name: p.cron for p in queue.periodic_registry.periodic_tasks.values()}
    assert crons["journey.sync_current_stages"] == "*/5 * * * *"
    assert crons["journey.reconcile_rollups"] == "50 2 * * *"
