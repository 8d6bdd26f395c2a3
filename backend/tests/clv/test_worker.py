"""A real `spendlens worker` runs a CLV fit job queued through the service, on a database of its
own: the fit, its estimates and the job's progress are committed for everyone to see."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import func, select

from spendlens.clv import service
from spendlens.clv.job import STEPS
from spendlens.clv.schemas import ClvFitCreate
from spendlens.models import ClvEstimate, Job, Organization
from tests.builders import create_customer, create_transaction
from tests.jobs.test_workers import wait_for

START = date(2025, 1, 1)


def test_a_worker_runs_a_fit_job(worker_db, start_worker):
    org = worker_db.org()
    with worker_db.session() as session:
        for n in range(40):
            customer = create_customer(session, org)
            # Every customer starts in January; every other one comes back every n-th week.
            days = [n % 28] + ([n % 28 + 7 * k * (1 + n % 5) for k in range(1, 8)] if n % 2 else [])
            for day in days:
                at = datetime.combine(START + timedelta(days=day), datetime.min.time(), UTC)
                create_transaction(session, org, customer, occurred_at=at, currency="GBP",
                                   amount=f"{10 + n}.00")  # fmt: skip
        body = ClvFitCreate(
            calibration_start=START,
            calibration_end=date(2025, 3, 31),
            holdout_end=date(2025, 6, 30),
        )
        fit = service.create_fit(session, session.get(Organization, org.id), None, body)
        session.commit()
    start_worker()

    def finished():
        with worker_db.session() as session:
            job = session.get(Job, (org.id, fit.job_id))
            return job if job.state in ("succeeded", "failed") else None

    job = wait_for(finished, what="the fit job to finish")
    assert job.state == "succeeded", job.result
    assert job.attempts == 1 and job.processed == job.total == STEPS
    with worker_db.session() as session:
        out = service.get_fit(session, org.id, fit.id)
        estimates = session.execute(
            select(func.count()).where(ClvEstimate.org_id == org.id, ClvEstimate.fit_id == fit.id)
        ).scalar_one()
    assert out.state == "succeeded" and out.customers == 40 and out.repeat_buyers == 20
    assert out.currency == "GBP" and estimates == out.scored_customers == 40
    assert out.evaluation is not None and out.evaluation.customers == 40
