"""The `alerts.evaluate` job: queued like every job kind, it evaluates the rules over the signals
of the configured source and queues the delivery of what it raised."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import func, select, text

from spendlens.alerts.job import execute_evaluation
from spendlens.alerts.service import JOB_KIND, queue_evaluation
from spendlens.alerts.signals import CustomerSignals, health_signals, set_signal_source
from spendlens.jobs.registry import find_kind
from spendlens.jobs.runner import JobRecord, Progress
from spendlens.models import Alert, Job
from tests.alerts.conftest import make_rule


def test_the_job_kind_is_declared_with_its_task():
    assert find_kind(JOB_KIND).task_name == "alerts.evaluate"


def test_the_job_evaluates_the_signals_of_the_source_and_queues_delivery(
    session, connection, shop, customer, as_app
):
    make_rule(session, shop, emails=["team@shop.example"])
    seen = []

    def source(conn, org_id):
        seen.append(org_id)
        return [CustomerSignals(customer.id, health_score=30, previous_health_score=70)]

    @contextmanager
    def progress_connection():
        with connection.begin_nested():
            yield connection

    set_signal_source(source)
    try:
        job_id = queue_evaluation(session.connection(), shop.org.id, trigger="health")
        session.flush()
        job = session.get(Job, (shop.org.id, job_id))
        record = JobRecord(shop.org.id, job_id, job.kind, job.params, None, 0)
        with as_app(shop.org.id) as conn:
            outcome = execute_evaluation(
                conn, record, Progress(progress_connection, shop.org.id, job_id)
            )
    finally:
        set_signal_source(health_signals)

    assert seen == [shop.org.id]
    assert outcome.state == "succeeded"
    assert outcome.result["alerts_raised"] == 1 and outcome.result["deliveries_queued"] == 1
    raised = session.execute(select(func.count()).where(Alert.org_id == shop.org.id))
    assert raised.scalar_one() == 1
    deliver_runs = connection.execute(
        text(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'alerts.deliver' "
            "AND (args->>'org_id')::bigint = :org"
        ),
        {"org": shop.org.id},
    ).scalar_one()
    assert deliver_runs == 1


def test_the_daily_schedule_queues_an_evaluation_per_organisation_with_rules(
    session, connection, app_role, shop
):
    from tests.builders import create_org
    from tests.conftest import as_app_role

    from spendlens.alerts.service import queue_daily_evaluations

    make_rule(session, shop)
    quiet = create_org(session)  # no rule: nothing to evaluate
    session.commit()
    with as_app_role(connection, app_role):
        queue_daily_evaluations(connection)
    kinds = dict(
        connection.execute(
            select(Job.org_id, func.count())
            .where(Job.kind == JOB_KIND, Job.org_id.in_([shop.org.id, quiet.id]))
            .group_by(Job.org_id)
        ).all()
    )
    assert kinds == {shop.org.id: 1}


def test_the_periodic_tasks_are_scheduled():
    from spendlens.alerts import tasks  # noqa: F401  (registers them)
    from spendlens.jobs.queue import queue

    crons = {p.task.name: p.cron for p in queue.periodic_registry.periodic_tasks.values()}
    assert crons["alerts.sweep"] == "* * * * *"
    assert crons["alerts.schedule_daily"] == "30 1 * * *"
