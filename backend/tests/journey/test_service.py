"""The wiring around the rules: jobs queued by the ingest (one waiting job per organisation),
the safety net for marks left without a job, and `customers.lifecycle_stage` following the
derived stage (also when a churn deadline passes with no event)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from spendlens.journey import repository, service
from tests.builders import create_customer
from tests.journey.helpers import post_events, run_journey_jobs
from tests.journey.reference import Ev


def _queued_jobs(connection, org_id: int) -> int:
    return connection.execute(
        text(
            "SELECT count(*) FROM jobs WHERE org_id = :org AND kind = 'journey' "
            "AND state = 'queued'"
        ),
        {"org": org_id},
    ).scalar_one()


def _stage_of(connection, org_id: int, external_id: str) -> str:
    return connection.execute(
        text("SELECT lifecycle_stage FROM customers WHERE org_id = :o AND external_id = :e"),
        {"o": org_id, "e": external_id},
    ).scalar_one()


def _payment(customer: str, n: int, when: datetime) -> Ev:
    return Ev(
        customer,
        f"00000000-0000-4000-8000-{n:012x}",
        "payment_succeeded",
        when,
        {"payment_id": f"p{n}", "amount": "5.00", "currency": "USD"},
    )


def test_ingests_share_one_waiting_job_and_a_rerun_batch_queues_none(client, connection, shop):
    now = datetime.now(UTC)
    post_events(client, shop.analyst, [_payment("ann", 1, now - timedelta(days=1))])
    post_events(client, shop.analyst, [_payment("ben", 2, now - timedelta(days=1))])
    assert _queued_jobs(connection, shop.id) == 1
    assert len(repository.read_pending(connection, shop.id)) == 2
    results = run_journey_jobs(connection, shop.id)
    assert results[0]["customers"] == 2 and results[0]["changed_customers"] == 2
    assert repository.read_pending(connection, shop.id) == []
    assert _stage_of(connection, shop.id, "ann") == "customer"
    post_events(client, shop.analyst, [_payment("ann", 1, now - timedelta(days=1))])
    assert _queued_jobs(connection, shop.id) == 0


def test_marks_without_a_job_get_one(connection, session, shop):
    customer = create_customer(session, shop.org)
    repository.add_pending(connection, shop.id, [customer.id])
    assert service.queue_if_pending(connection, shop.id) is not None
    assert service.queue_if_pending(connection, shop.id) is None  # one is waiting now
    assert _queued_jobs(connection, shop.id) == 1


def test_lifecycle_stage_follows_a_deadline_that_passed_and_typed_stages_stay(
    client, connection, session, shop
):
    now = datetime.now(UTC)
    typed = create_customer(session, shop.org, lifecycle_stage="prospect")
    post_events(client, shop.analyst, [_payment("cat", 3, now - timedelta(days=59, hours=23))])
    run_journey_jobs(connection, shop.id)
    assert _stage_of(connection, shop.id, "cat") == "customer"
    # An hour later the 60 days have passed with no event: the interval was stored ahead, and
    # the periodic sync (here at a moment shifted by the hour) moves the column.
    connection.execute(
        text(
            "UPDATE customer_stages SET valid_from = valid_from - interval '2 hours' "
            "WHERE org_id = :o AND stage = 'churned'"
        ),
        {"o": shop.id},
    )
    connection.execute(
        text(
            "UPDATE customer_stages SET valid_to = valid_to - interval '2 hours' "
            "WHERE org_id = :o AND stage = 'customer'"
        ),
        {"o": shop.id},
    )
    assert repository.sync_lifecycle_stages(connection, shop.id) == 1
    assert _stage_of(connection, shop.id, "cat") == "churned"
    assert _stage_of(connection, shop.id, typed.external_id) == "prospect"
    # A stage typed on a customer with events is replaced by the derived one.
    connection.execute(
        text(
            "UPDATE customers SET lifecycle_stage = 'lead' "
            "WHERE org_id = :o AND external_id = 'cat'"
        ),
        {"o": shop.id},
    )
    repository.sync_lifecycle_stages(connection, shop.id)
    assert _stage_of(connection, shop.id, "cat") == "churned"
