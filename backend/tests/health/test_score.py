"""Scores computed by hand from the README's formula equal the API's, for every customer of a
scenario that exercises every component; changing the weights changes them as documented."""

from __future__ import annotations

import pytest

from tests.health.conftest import AS_OF
from tests.health.helpers import DEFAULT_WEIGHTS, HEALTH, NAMES, by_hand, store


def customer_health(client, headers, customer_id):
    response = client.get(f"/api/v1/customers/{customer_id}/health", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def check_against_hand(client, scenario, weights):
    for key, customer in scenario.customers.items():
        expected, parts = by_hand(
            scenario.facts[key],
            AS_OF,
            currency=scenario.org.base_currency,
            org_tracks=scenario.tracks,
            weights=weights,
        )
        body = customer_health(client, scenario.viewer, customer.id)
        if expected is None:
            assert body["score"] is None and body["components"] == [], key
            continue
        assert body["score"] == pytest.approx(expected, abs=1e-3), key
        assert body["as_of"] == AS_OF.isoformat()
        components = {c["name"]: c for c in body["components"]}
        assert list(components) == list(NAMES)
        available = [name for name in NAMES if parts[name][1] is not None]
        total_weight = sum(weights[name] for name in available)
        for name in NAMES:
            value, normalized = parts[name]
            got = components[name]
            assert got["configured_weight"] == pytest.approx(weights[name]), (key, name)
            if normalized is None:
                assert got["value"] is None and got["normalized"] is None, (key, name)
                assert got["weight"] == 0 and got["contribution"] == 0, (key, name)
                continue
            assert got["value"] == pytest.approx(value, abs=1e-6), (key, name)
            assert got["normalized"] == pytest.approx(normalized, abs=1e-6), (key, name)
            assert got["weight"] == pytest.approx(weights[name] / total_weight, abs=1e-6)
            assert got["contribution"] == pytest.approx(
                100 * weights[name] / total_weight * normalized, abs=1e-4
            ), (key, name)
        # The contributions sum to the score exactly (each is rounded before the sum).
        assert sum(c["contribution"] for c in body["components"]) == pytest.approx(
            body["score"], abs=1e-9
        )


def test_scores_equal_the_formula_computed_by_hand(client, connection, scenario):
    result = store(connection, scenario.org.id, AS_OF)
    # E has only event components (all data); every customer is scored.
    assert result["customers"] == 5 and result["unscored"] == 0
    check_against_hand(client, scenario, DEFAULT_WEIGHTS)
    # The scenario covers what it means to: A's reopened ticket is open, C's closed at the same
    # instant is not, D's refund leaves no recent spend, later events are ignored.
    a = by_hand(scenario.facts["A"], AS_OF, currency="EUR", org_tracks=scenario.tracks)[1]
    assert a["open_support_tickets"] == (1, pytest.approx(2 / 3))
    assert a["login_frequency"][0] == 6 and a["feature_adoption"][0] == 2
    assert a["failed_payments"][0] == 1 and a["recency"][0] == 5
    c = by_hand(scenario.facts["C"], AS_OF, currency="EUR", org_tracks=scenario.tracks)[1]
    assert c["open_support_tickets"][0] == 0 and c["recency"] == (None, None)
    d = by_hand(scenario.facts["D"], AS_OF, currency="EUR", org_tracks=scenario.tracks)[1]
    assert d["spend_trend"] == (-40.0, 0.0) and d["login_frequency"] == (0, 0.0)


def test_changing_the_weights_changes_the_scores_as_documented(client, connection, scenario):
    store(connection, scenario.org.id, AS_OF)
    weights = {name: 0.0 for name in NAMES}
    weights.update(recency=0.5, login_frequency=0.3, failed_payments=0.2)
    response = client.put(
        f"{HEALTH}/settings",
        json={"weights": weights, "bands": {"healthy": 80, "at_risk": 50}},
        headers=scenario.admin,
    )
    assert response.status_code == 200, response.text
    assert response.json()["version"] == 1
    result = store(connection, scenario.org.id, AS_OF)  # replaces the day's computation
    assert result["settings_version"] == 1
    check_against_hand(client, scenario, weights)
    # Recency alone: every customer with a purchase scores 100 × their recency; the others have
    # no weighted component and no score.
    weights = {name: 0.0 for name in NAMES} | {"recency": 1.0}
    response = client.put(
        f"{HEALTH}/settings",
        json={"weights": {"recency": 1}, "bands": {"healthy": 80, "at_risk": 50}},
        headers=scenario.admin,
    )
    assert response.status_code == 200 and response.json()["weights"] == weights
    result = store(connection, scenario.org.id, AS_OF)
    assert (result["customers"], result["unscored"], result["settings_version"]) == (3, 2, 2)
    check_against_hand(client, scenario, weights)
    a = customer_health(client, scenario.viewer, scenario.customers["A"].id)
    assert a["score"] == pytest.approx(100 * (1 - 5 / 180), abs=1e-3)
    assert a["band"] == "healthy" and a["settings_version"] == 2
    b = customer_health(client, scenario.viewer, scenario.customers["B"].id)
    assert b["score"] == 0 and b["band"] == "critical"
    # The settings that scored are still readable by version.
    old = client.get(f"{HEALTH}/settings", params={"version": 1}, headers=scenario.viewer)
    assert old.json()["weights"]["login_frequency"] == 0.3


def test_without_events_the_event_components_are_skipped(client, session, connection):
    """An organisation that sends no events: only the purchase components count, their weights
    renormalised; a customer without any purchase has no score."""
    from datetime import timedelta
    from decimal import Decimal

    from tests.builders import create_customer, create_org, create_transaction, create_user
    from tests.builders import headers_for
    from tests.health.helpers import Facts, at

    org = create_org(session)
    headers = headers_for(create_user(session, org, role="viewer"))
    buyer = create_customer(session, org)
    idle = create_customer(session, org)
    facts = Facts()
    for days, amount in ((10, "30.00"), (100, "10.00"), (130, "10.00")):
        moment = at(AS_OF - timedelta(days=days))
        create_transaction(session, org, buyer, occurred_at=moment, amount=Decimal(amount))
        facts.transactions.append((moment, Decimal(amount), "purchase", "USD"))
    result = store(connection, org.id, AS_OF)
    assert (result["customers"], result["unscored"]) == (1, 1)
    expected, parts = by_hand(facts, AS_OF, currency="USD", org_tracks=set())
    # recency 1 − 10/180, frequency 1/3, spend 30/50; weights .25, .15, .15 over .55.
    assert expected == pytest.approx(
        100 * (0.25 * (1 - 10 / 180) + 0.15 * (1 / 3) + 0.15 * 0.6) / 0.55
    )
    body = customer_health(client, headers, buyer.id)
    assert body["score"] == pytest.approx(expected, abs=1e-3)
    skipped = [c["name"] for c in body["components"] if c["normalized"] is None]
    assert skipped == list(NAMES[3:])
    assert sum(c["weight"] for c in body["components"]) == pytest.approx(1, abs=1e-5)
    nobody = customer_health(client, headers, idle.id)
    assert (nobody["score"], nobody["band"], nobody["components"]) == (None, None, [])
    assert nobody["as_of"] == AS_OF.isoformat() and nobody["history"] == []
