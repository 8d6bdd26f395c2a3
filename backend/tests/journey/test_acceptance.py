"""Acceptance of the customer journey: a random event log, sent out of order with duplicates,
gives at 20 random instants (and around churn deadlines) the customers per stage, the funnel,
the flows and the time series that an independent replay of the same log gives
(tests/journey/reference.py, plain Python that shares no code with spendlens.journey)."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import text

from spendlens.journey import service
from tests.builders import create_customer
from tests.journey import reference
from tests.journey.generator import SPAN_DAYS, START, event_log, sendings
from tests.journey.helpers import post_events, run_journey_jobs

CHURN_DAYS = 45
STAGES = ("lead", "prospect", "customer", "churned")


def send_all(client, connection, shop, batches) -> None:
    """POST every batch through the real ingest (the first sending of an event id is stored,
    every later one is a duplicate, or rejected when its changed properties are invalid)."""
    seen = set(
        connection.execute(
            text("SELECT event_id::text FROM event_ids WHERE org_id = :org"), {"org": shop.id}
        ).scalars()
    )
    for number, batch in enumerate(batches, start=1):
        results = post_events(client, shop.analyst, batch)
        for ev, result in zip(batch, results):
            if ev.event_id in seen:
                assert result["status"] in ("duplicate", "rejected"), result
            else:
                assert result["status"] == "stored", result
                seen.add(ev.event_id)
        if number % 4 == 0:  # rebuilds between batches: later batches arrive late
            run_journey_jobs(connection, shop.id)
    run_journey_jobs(connection, shop.id)


def api_counts(client, shop, as_of: str) -> dict[str, int]:
    response = client.get("/api/v1/journey/stages", params={"as_of": as_of}, headers=shop.viewer)
    assert response.status_code == 200, response.text
    body = response.json()
    counts = {row["stage"]: row["customers"] for row in body["stages"]}
    assert body["total"] == sum(counts.values())
    return counts


def ref_counts(customers, at: datetime) -> dict[str, int]:
    counts = reference.stage_counts(customers, at, CHURN_DAYS)
    return {stage: counts.get(stage, 0) for stage in STAGES}


@pytest.fixture
def journey_log(client, connection, shop):
    response = client.put(
        "/api/v1/journey/settings", json={"churn_after_days": CHURN_DAYS}, headers=shop.admin
    )
    assert response.status_code == 200, response.text
    seed = 20261203
    batches = sendings(seed, event_log(seed, customers=45, churn_days=CHURN_DAYS))
    send_all(client, connection, shop, batches)
    stored = reference.first_sent([ev for batch in batches for ev in batch])
    return batches, reference.by_customer(stored)


def test_stages_at_random_instants_and_around_deadlines_equal_the_replay(client, shop, journey_log):
    _, customers = journey_log
    rng = random.Random(7)
    span = (SPAN_DAYS + 200) * 86400
    instants = [
        START
        + timedelta(seconds=rng.randrange(-5 * 86400, span), microseconds=rng.randrange(10**6))
        for _ in range(20)
    ]
    payments = [ev for evs in customers.values() for ev in evs if ev.type == "payment_succeeded"]
    for payment in rng.sample(payments, 6):
        deadline = payment.occurred_at + timedelta(days=CHURN_DAYS)
        instants += [deadline - timedelta(microseconds=1), deadline]
    churned_somewhere = False
    for at in instants:
        expected = ref_counts(customers, at)
        churned_somewhere |= expected["churned"] > 0
        assert api_counts(client, shop, at.isoformat()) == expected, at
    assert churned_somewhere
    # A date is the end of that UTC day (answered from the daily rollup).
    for offset in [-3, 0, *rng.sample(range(SPAN_DAYS + 200), 6)]:
        day = (START + timedelta(days=offset)).date()
        expected = ref_counts(customers, reference.end_of(day))
        assert api_counts(client, shop, day.isoformat()) == expected, day


def test_funnel_equals_the_replay(client, shop, journey_log):
    _, customers = journey_log
    first_day = START.date()
    for start, end, within in [
        (first_day, first_day + timedelta(days=SPAN_DAYS), None),
        (first_day + timedelta(days=30), first_day + timedelta(days=150), None),
        (first_day, first_day + timedelta(days=SPAN_DAYS), 20),
        (first_day + timedelta(days=10), first_day + timedelta(days=300), 75),
    ]:
        params = {"start": start.isoformat(), "end": end.isoformat()}
        if within is not None:
            params["within_days"] = within
        response = client.get("/api/v1/journey/funnel", params=params, headers=shop.viewer)
        assert response.status_code == 200, response.text
        steps = {step["stage"]: step for step in response.json()["steps"]}
        expected = reference.funnel(customers, start, end, within, CHURN_DAYS)
        assert steps["lead"]["customers"] == expected["lead"]["customers"] > 0
        for stage in ("prospect", "customer"):
            assert steps[stage]["customers"] == expected[stage]["customers"], (stage, params)
            assert steps[stage]["median_seconds"] == pytest.approx(expected[stage]["median"])
            assert steps[stage]["p90_seconds"] == pytest.approx(expected[stage]["p90"])
        leads = expected["lead"]["customers"]
        assert steps["customer"]["conversion_from_lead"] == pytest.approx(
            expected["customer"]["customers"] / leads, abs=5e-5
        )


def test_flows_equal_the_replay_and_conserve_customers(client, shop, journey_log):
    _, customers = journey_log
    pairs = [
        (START - timedelta(days=1), START + timedelta(days=SPAN_DAYS + 100)),
        (START + timedelta(days=90), START + timedelta(days=200, hours=5)),
        (START + timedelta(days=200), START + timedelta(days=330)),
    ]
    for start, end in pairs:
        response = client.get(
            "/api/v1/journey/flows",
            params={"start": start.isoformat(), "end": end.isoformat()},
            headers=shop.viewer,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        links = {
            (link["from_stage"], link["to_stage"]): link["customers"] for link in body["links"]
        }
        assert links == dict(reference.flows(customers, start, end, CHURN_DAYS))
        start_side = sum(n["customers"] for n in body["nodes"] if n["side"] == "start")
        end_side = sum(n["customers"] for n in body["nodes"] if n["side"] == "end")
        assert start_side == end_side == body["total"] == sum(links.values())
        assert body["total"] == sum(ref_counts(customers, end).values())
    # Dates are the ends of those UTC days.
    first, last = date(2025, 3, 1), date(2025, 9, 30)
    response = client.get(
        "/api/v1/journey/flows",
        params={"start": first.isoformat(), "end": last.isoformat()},
        headers=shop.viewer,
    )
    links = {
        (link["from_stage"], link["to_stage"]): link["customers"]
        for link in response.json()["links"]
    }
    expected = reference.flows(
        customers, reference.end_of(first), reference.end_of(last), CHURN_DAYS
    )
    assert links == dict(expected)


def test_time_series_and_rollups_equal_a_full_recomputation(client, connection, shop, journey_log):
    _, customers = journey_log
    first_day = START.date()
    last_day = first_day + timedelta(days=SPAN_DAYS + 150)
    for interval in ("day", "week", "month"):
        response = client.get(
            "/api/v1/journey/stages/timeseries",
            params={
                "interval": interval,
                "start": first_day.isoformat(),
                "end": last_day.isoformat(),
            },
            headers=shop.viewer,
        )
        assert response.status_code == 200, response.text
        points = response.json()["points"]
        sample = points if interval != "day" else points[::17]
        for point in sample:
            at = reference.end_of(date.fromisoformat(point["as_of"]))
            assert {s: point[s] for s in STAGES} == ref_counts(customers, at), point
    # The rollups hold, for every day, what a replay of the whole log gives.
    stored = connection.execute(
        text(
            "SELECT day, stage, customers FROM journey_daily_stages WHERE org_id = :org "
            "ORDER BY day"
        ),
        {"org": shop.id},
    ).all()
    by_day: dict[date, dict[str, int]] = {}
    for day, stage, count in stored:
        by_day.setdefault(day, {})[stage] = count
    assert len(by_day) > 300
    for day, counts in by_day.items():
        assert counts == ref_counts(customers, reference.end_of(day)), day
    transitions = connection.execute(
        text(
            "SELECT day, from_stage, to_stage, customers FROM journey_daily_transitions "
            "WHERE org_id = :org"
        ),
        {"org": shop.id},
    ).all()
    expected = {}
    for evs in customers.values():
        previous = "new"
        day = evs[0].occurred_at.date()
        while day <= max(by_day):
            stage, _ = reference.replay(evs, reference.end_of(day), CHURN_DAYS)
            if stage != previous:
                expected[(day, previous, stage)] = expected.get((day, previous, stage), 0) + 1
                previous = stage
            day += timedelta(days=1)
    assert {(d, f, t): n for d, f, t, n in transitions} == expected


def _rollups(connection, org_id: int):
    return [
        connection.execute(
            text(f"SELECT * FROM {table} WHERE org_id = :org ORDER BY 1, 2, 3, 4"),
            {"org": org_id},
        ).all()
        for table in ("journey_daily_stages", "journey_daily_transitions")
    ]


def test_the_nightly_full_recomputation_finds_the_incremental_rollups_exact(
    client, connection, shop, journey_log
):
    _, customers = journey_log
    incremental = _rollups(connection, shop.id)
    assert service.recompute_rollups(connection, shop.id) is not None
    assert _rollups(connection, shop.id) == incremental
    # A deleted customer's intervals go with them; the recomputation drops them from the rollups.
    gone = sorted(customers)[0]
    connection.execute(
        text("DELETE FROM customers WHERE org_id = :org AND external_id = :ext"),
        {"org": shop.id, "ext": gone},
    )
    service.recompute_rollups(connection, shop.id)
    left = {external: evs for external, evs in customers.items() if external != gone}
    day = (START + timedelta(days=SPAN_DAYS)).date()
    response = client.get(
        "/api/v1/journey/stages/timeseries",
        params={"interval": "day", "start": day.isoformat(), "end": day.isoformat()},
        headers=shop.viewer,
    )
    point = response.json()["points"][0]
    assert {s: point[s] for s in STAGES} == ref_counts(left, reference.end_of(day))


def test_resending_a_batch_changes_no_stage(client, connection, shop, journey_log):
    batches, _ = journey_log

    def snapshot():
        return [
            connection.execute(
                text(f"SELECT * FROM {table} WHERE org_id = :org ORDER BY 1, 2, 3"),
                {"org": shop.id},
            ).all()
            for table in (
                "customer_stages",
                "customer_milestones",
                "journey_daily_stages",
                "journey_daily_transitions",
            )
        ]

    before = snapshot()
    send_all(client, connection, shop, [batches[3], batches[-1]])
    assert snapshot() == before
    assert (
        connection.execute(
            text("SELECT count(*) FROM journey_pending WHERE org_id = :org"), {"org": shop.id}
        ).scalar_one()
        == 0
    )


def test_a_rebuild_of_many_customers_in_one_pass_gives_the_same_histories(
    client, connection, session, shop, journey_log, monkeypatch
):
    _, customers = journey_log
    before = _rollups(connection, shop.id) + [
        connection.execute(
            text(f"SELECT * FROM {table} WHERE org_id = :org ORDER BY 1, 2, 3"),
            {"org": shop.id},
        ).all()
        for table in ("customer_stages", "customer_milestones")
    ]
    monkeypatch.setattr(service.tuning, "full_scan_customers", 1)
    monkeypatch.setattr(service, "REBUILD_CHUNK", 7)
    without_events = create_customer(session, shop.org)
    connection.execute(
        text("INSERT INTO journey_pending (org_id, customer_id) VALUES (:org, :id)"),
        {"org": shop.id, "id": without_events.id},
    )
    result = service.rebuild_everyone(connection, shop.id)
    assert result.customers == len(customers) + 1 and result.changed_customers == 0
    after = _rollups(connection, shop.id) + [
        connection.execute(
            text(f"SELECT * FROM {table} WHERE org_id = :org ORDER BY 1, 2, 3"),
            {"org": shop.id},
        ).all()
        for table in ("customer_stages", "customer_milestones")
    ]
    assert after == before
