"""The alert rules are evaluated over the stored health scores: the latest computation and the
one before it, and a health recompute queues the evaluation when a rule is on."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from spendlens.alerts.signals import health_signals
from spendlens.health.service import queue_recompute
from tests.alerts.conftest import make_rule
from tests.builders import create_transaction
from tests.health.helpers import at, run_health_job_here, store

FIRST, LATER = date(2026, 3, 1), date(2026, 9, 1)


def stored_scores(connection, org_id: int, day: date) -> dict[int, float]:
    rows = connection.execute(
        text("SELECT customer_id, score FROM health_scores WHERE org_id = :o AND as_of = :d"),
        {"o": org_id, "d": day},
    )
    return {row.customer_id: row.score for row in rows}


def test_signals_are_the_latest_score_and_the_one_before(
    session, connection, shop, customer, as_app
):
    for days_before in (3, 20, 40, 60):
        create_transaction(
            session,
            shop.org,
            customer,
            occurred_at=at(date.fromordinal(FIRST.toordinal() - days_before)),
        )
    with as_app(shop.org.id) as conn:
        assert list(health_signals(conn, shop.org.id)) == []  # nothing computed yet
    store(connection, shop.org.id, FIRST)
    with as_app(shop.org.id) as conn:
        (only,) = health_signals(conn, shop.org.id)
    first = stored_scores(connection, shop.org.id, FIRST)[customer.id]
    assert (only.health_score, only.previous_health_score) == (first, None)

    store(connection, shop.org.id, LATER)  # six months without a purchase
    with as_app(shop.org.id) as conn:
        (only,) = health_signals(conn, shop.org.id)
    later = stored_scores(connection, shop.org.id, LATER)[customer.id]
    assert (only.health_score, only.previous_health_score) == (later, first)
    assert later < first
    assert only.health_band is not None


def test_a_health_recompute_queues_the_evaluation_when_a_rule_is_on(
    session, connection, shop, customer
):
    create_transaction(session, shop.org, customer, occurred_at=at(FIRST))
    job_id = queue_recompute(session.connection(), shop.org.id, trigger="api", as_of=LATER)
    session.flush()
    outcome = run_health_job_here(connection, shop.org.id, job_id)
    assert "alerts_job_id" not in (outcome.result or {})  # no rule: nothing to evaluate

    make_rule(session, shop)
    job_id = queue_recompute(session.connection(), shop.org.id, trigger="api", as_of=LATER)
    session.flush()
    outcome = run_health_job_here(connection, shop.org.id, job_id)
    queued = connection.execute(
        text("SELECT kind FROM jobs WHERE org_id = :o AND id = :j"),
        {"o": shop.org.id, "j": outcome.result["alerts_job_id"]},
    ).scalar_one()
    assert queued == "alerts.evaluate"
