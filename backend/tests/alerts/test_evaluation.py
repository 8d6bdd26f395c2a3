"""Evaluating rules and delivering alerts, end to end against a real local webhook receiver (which
verifies every signature) and a real local SMTP server: one problem raises one alert, one
webhook delivery and one email; failures are retried with backoff; a resolved alert comes back
only after its condition cleared; critical alerts escalate once; spend_drop is what it says."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from spendlens.alerts.delivery import deliver_due
from spendlens.alerts.definitions import retry_delay
from spendlens.alerts.service import escalate_due, evaluate, resolve
from spendlens.alerts.signals import CustomerSignals
from spendlens.models import Alert, AlertDelivery
from tests.alerts.conftest import NOW, make_rule
from tests.builders import create_customer, create_transaction


def drop(customer_id: int, previous: float, latest: float, band: str = "at_risk"):
    return CustomerSignals(
        customer_id, health_score=latest, previous_health_score=previous, health_band=band
    )


def alerts_of(session, org_id: int, customer_id: int | None = None) -> list[Alert]:
    query = select(Alert).where(Alert.org_id == org_id).order_by(Alert.id)
    if customer_id is not None:
        query = query.where(Alert.customer_id == customer_id)
    session.expire_all()
    return list(session.execute(query).scalars())


def run(as_app, org_id, signals, now, settings):
    """One recompute's worth: evaluate, then send what is due (as the worker would)."""
    with as_app(org_id) as conn:
        result = evaluate(conn, org_id, signals, now)
        deliver_due(conn, org_id, now, settings)
    return result


class TestOneProblemOneAlert:
    def test_a_drop_raises_one_alert_one_webhook_and_one_email_however_many_recomputes(
        self, client, session, shop, customer, receiver, inbox, delivery_settings, as_app
    ):
        rule = make_rule(
            session,
            shop,
            delivery_settings,
            webhooks=[{"url": receiver.url("/hook")}],
            emails=["success@shop.example"],
        )
        secret = rule.webhooks[0].secret
        assert secret and secret.startswith("whsec_")  # generated, shown once
        receiver.secrets["/hook"] = secret
        # Recomputes during the 7-day cooldown, the score still falling: the same problem.
        scores = [(75, 40), (75, 40), (40, 15), (40, 15), (15, 0)]
        for hour, (previous, latest) in enumerate(scores):
            run(
                as_app,
                shop.org.id,
                [drop(customer.id, previous, latest)],
                NOW + timedelta(hours=hour),
                delivery_settings,
            )

        feed = client.get("/api/v1/alerts/feed", headers=shop.headers("viewer")).json()
        assert len(feed["items"]) == 1
        alert = feed["items"][0]
        assert alert["customer_id"] == customer.id and alert["customer_name"] == "Ada Lovelace"
        assert (alert["kind"], alert["severity"], alert["state"]) == (
            "health_drop",
            "warning",
            "open",
        )
        assert alert["details"] == {"health_score": 40, "previous_health_score": 75, "drop": 35}
        assert alert["message"] == "Health fell 35 points (75 → 40)"

        assert len(receiver.received) == 1
        hook = receiver.received[0]
        assert hook.signature_valid and receiver.answered == [200]
        assert hook.json["type"] == "alert.raised"
        assert hook.json["alert"]["id"] == alert["id"]
        assert hook.json["alert"]["customer"]["name"] == "Ada Lovelace"
        assert hook.headers["x-spendlens-delivery"] == str(hook.json["delivery_id"])

        assert len(inbox.messages) == 1
        email = inbox.messages[0]
        assert email.rcpt_tos == ["success@shop.example"]
        content = email.content.decode()
        assert "Ada Lovelace" in content and "Health fell 35 points" in content

        log = client.get(
            f"/api/v1/alerts/{alert['id']}/deliveries", headers=shop.headers("viewer")
        ).json()
        assert sorted((d["channel"], d["state"], d["attempts"]) for d in log) == [
            ("email", "delivered", 1),
            ("webhook", "delivered", 1),
        ]

    def test_a_customer_below_the_threshold_or_without_signals_raises_nothing(
        self, session, shop, customer, delivery_settings, as_app
    ):
        make_rule(session, shop, delivery_settings, params={"points": 20})
        other = create_customer(session, shop.org)
        result = run(
            as_app,
            shop.org.id,
            [drop(customer.id, 75, 56), CustomerSignals(other.id, health_score=10)],
            NOW,
            delivery_settings,
        )
        assert result["alerts_raised"] == 0
        assert alerts_of(session, shop.org.id) == []

    def test_the_other_kinds_raise_on_their_own_signals(
        self, session, shop, customer, delivery_settings, as_app
    ):
        make_rule(session, shop, name="Critical", kind="entered_critical", params={})
        make_rule(
            session, shop, name="Churn", kind="churn_probability", params={"probability": 0.7}
        )
        calm = create_customer(session, shop.org)
        signals = [
            CustomerSignals(
                customer.id, health_score=12, health_band="critical", churn_probability=0.7
            ),
            CustomerSignals(
                calm.id, health_score=80, health_band="healthy", churn_probability=0.69
            ),
        ]
        run(as_app, shop.org.id, signals, NOW, delivery_settings)
        raised = alerts_of(session, shop.org.id)
        assert sorted((a.customer_id, a.kind) for a in raised) == [
            (customer.id, "churn_probability"),
            (customer.id, "entered_critical"),
        ]

    def test_a_disabled_rule_raises_nothing(
        self, session, shop, customer, delivery_settings, as_app
    ):
        make_rule(session, shop, enabled=False)
        run(as_app, shop.org.id, [drop(customer.id, 90, 10)], NOW, delivery_settings)
        assert alerts_of(session, shop.org.id) == []


class TestRetries:
    def test_a_failing_receiver_is_retried_with_backoff_and_the_log_says_so(
        self, client, session, shop, customer, receiver, delivery_settings, as_app
    ):
        rule = make_rule(
            session, shop, delivery_settings, webhooks=[{"url": receiver.url("/flaky")}]
        )
        receiver.secrets["/flaky"] = rule.webhooks[0].secret
        receiver.fail_first = 2
        with as_app(shop.org.id) as conn:
            evaluate(conn, shop.org.id, [drop(customer.id, 80, 30)], NOW)
            assert deliver_due(conn, shop.org.id, NOW, delivery_settings) == 1  # 500
            first_retry = NOW + retry_delay(1)
            # Not due before its backoff has passed.
            assert (
                deliver_due(
                    conn, shop.org.id, first_retry - timedelta(seconds=1), delivery_settings
                )
                == 0
            )
            assert deliver_due(conn, shop.org.id, first_retry, delivery_settings) == 1  # 500
            second_retry = first_retry + retry_delay(2)
            assert retry_delay(2) == 2 * retry_delay(1)
            assert (
                deliver_due(
                    conn, shop.org.id, second_retry - timedelta(seconds=1), delivery_settings
                )
                == 0
            )
            assert deliver_due(conn, shop.org.id, second_retry, delivery_settings) == 1  # 200
            assert (
                deliver_due(conn, shop.org.id, second_retry + timedelta(days=1), delivery_settings)
                == 0
            )
        assert receiver.answered == [500, 500, 200]
        assert all(r.signature_valid for r in receiver.received)

        alert_id = alerts_of(session, shop.org.id)[0].id
        [record] = client.get(
            f"/api/v1/alerts/{alert_id}/deliveries", headers=shop.headers("analyst")
        ).json()
        assert (record["state"], record["attempts"], record["last_status"]) == ("delivered", 3, 200)
        assert record["next_attempt_at"] is None and record["last_error"] is None
        assert [a["status"] for a in record["attempt_log"]] == [500, 500, 200]
        assert record["attempt_log"][0]["error"].startswith("HTTP 500")

    def test_a_delivery_that_keeps_failing_gives_up_after_the_last_attempt(
        self, session, shop, customer, receiver, delivery_settings, as_app
    ):
        from spendlens.alerts.definitions import MAX_ATTEMPTS

        rule = make_rule(
            session, shop, delivery_settings, webhooks=[{"url": receiver.url("/down")}]
        )
        receiver.secrets["/down"] = rule.webhooks[0].secret
        receiver.fail_first = 100
        now = NOW
        with as_app(shop.org.id) as conn:
            evaluate(conn, shop.org.id, [drop(customer.id, 80, 30)], now)
            for attempt in range(1, MAX_ATTEMPTS + 1):
                assert deliver_due(conn, shop.org.id, now, delivery_settings) == 1
                now += retry_delay(attempt)
            assert deliver_due(conn, shop.org.id, now + timedelta(days=30), delivery_settings) == 0
        record = session.execute(
            select(AlertDelivery).where(AlertDelivery.org_id == shop.org.id)
        ).scalar_one()
        session.refresh(record)
        assert (record.state, record.attempts, record.next_attempt_at) == (
            "failed",
            MAX_ATTEMPTS,
            None,
        )
        assert len(receiver.received) == MAX_ATTEMPTS


class TestResolveAndRaiseAgain:
    def test_a_resolved_alert_is_raised_again_only_after_the_condition_cleared(
        self, session, shop, customer, delivery_settings, as_app
    ):
        make_rule(session, shop, cooldown_minutes=60)
        falling = [drop(customer.id, 80, 40)]
        recovered = [drop(customer.id, 40, 45)]
        run(as_app, shop.org.id, falling, NOW, delivery_settings)
        [first] = alerts_of(session, shop.org.id)
        resolve(session, shop.org.id, first.id, shop.analyst, NOW + timedelta(hours=1))
        session.flush()

        # Resolved, cooldown over, but the condition never cleared: no new alert.
        run(as_app, shop.org.id, falling, NOW + timedelta(hours=2), delivery_settings)
        assert [a.id for a in alerts_of(session, shop.org.id)] == [first.id]

        run(as_app, shop.org.id, recovered, NOW + timedelta(hours=3), delivery_settings)
        assert len(alerts_of(session, shop.org.id)) == 1

        run(as_app, shop.org.id, falling, NOW + timedelta(hours=4), delivery_settings)
        alerts = alerts_of(session, shop.org.id)
        assert [a.state for a in alerts] == ["resolved", "open"]

    def test_a_cleared_condition_within_the_cooldown_waits_for_the_cooldown(
        self, session, shop, customer, delivery_settings, as_app
    ):
        make_rule(session, shop, cooldown_minutes=24 * 60)
        run(as_app, shop.org.id, [drop(customer.id, 80, 40)], NOW, delivery_settings)
        [first] = alerts_of(session, shop.org.id)
        resolve(session, shop.org.id, first.id, shop.analyst, NOW + timedelta(hours=1))
        session.flush()
        run(
            as_app,
            shop.org.id,
            [drop(customer.id, 40, 45)],
            NOW + timedelta(hours=2),
            delivery_settings,
        )
        run(
            as_app,
            shop.org.id,
            [drop(customer.id, 45, 10)],
            NOW + timedelta(hours=3),
            delivery_settings,
        )
        assert len(alerts_of(session, shop.org.id)) == 1  # within the day's cooldown
        run(
            as_app,
            shop.org.id,
            [drop(customer.id, 45, 10)],
            NOW + timedelta(hours=25),
            delivery_settings,
        )
        assert len(alerts_of(session, shop.org.id)) == 2

    def test_an_open_alert_is_not_raised_twice_even_after_the_cooldown(
        self, session, shop, customer, delivery_settings, as_app
    ):
        make_rule(session, shop, cooldown_minutes=0)
        for day in range(3):
            run(
                as_app,
                shop.org.id,
                [drop(customer.id, 80, 40)],
                NOW + timedelta(days=day),
                delivery_settings,
            )
            run(
                as_app,
                shop.org.id,
                [drop(customer.id, 40, 41)],
                NOW + timedelta(days=day, hours=1),
                delivery_settings,
            )
        assert len(alerts_of(session, shop.org.id)) == 1


class TestEscalation:
    def test_a_critical_alert_not_acknowledged_is_sent_to_the_escalation_recipients_once(
        self, client, session, shop, customer, inbox, delivery_settings, as_app
    ):
        make_rule(
            session,
            shop,
            delivery_settings,
            severity="critical",
            emails=["team@shop.example"],
            escalation_minutes=30,
            escalation_emails=["boss@shop.example"],
        )
        acknowledged = create_customer(session, shop.org)
        signals = [drop(customer.id, 80, 20), drop(acknowledged.id, 80, 20)]
        run(as_app, shop.org.id, signals, NOW, delivery_settings)
        ack_id = alerts_of(session, shop.org.id, acknowledged.id)[0].id
        response = client.post(
            f"/api/v1/alerts/{ack_id}/acknowledge", headers=shop.headers("analyst")
        )
        assert response.status_code == 200

        with as_app(shop.org.id) as conn:
            assert escalate_due(conn, shop.org.id, NOW + timedelta(minutes=29)) == 0
            assert escalate_due(conn, shop.org.id, NOW + timedelta(minutes=30)) == 1
            deliver_due(conn, shop.org.id, NOW + timedelta(minutes=30), delivery_settings)
            for later in (31, 60, 24 * 60):
                assert escalate_due(conn, shop.org.id, NOW + timedelta(minutes=later)) == 0
                deliver_due(conn, shop.org.id, NOW + timedelta(minutes=later), delivery_settings)

        assert len(inbox.to("team@shop.example")) == 2  # both alerts, once each
        [escalation] = inbox.to("boss@shop.example")
        assert "ESCALATED" in escalation.content.decode()
        alert = alerts_of(session, shop.org.id, customer.id)[0]
        assert alert.escalated_at == NOW + timedelta(minutes=30)
        assert alerts_of(session, shop.org.id, acknowledged.id)[0].escalated_at is None
        purposes = session.execute(
            select(AlertDelivery.purpose, func.count())
            .where(AlertDelivery.org_id == shop.org.id)
            .group_by(AlertDelivery.purpose)
        ).all()
        assert dict(purposes) == {"alert": 2, "escalation": 1}


class TestSpendDrop:
    def test_spend_in_the_last_n_days_against_the_n_days_before_as_computed_by_hand(
        self, session, shop, delivery_settings, as_app
    ):
        make_rule(
            session, shop, name="Spend", kind="spend_drop", params={"days": 30, "percent": 50}
        )
        days = timedelta(days=30)
        falling, mild, new, foreign = (create_customer(session, shop.org) for _ in range(4))

        def buy(customer, at, amount, **kw):
            create_transaction(
                session, shop.org, customer, occurred_at=at, amount=Decimal(amount), **kw
            )

        # falling: before = 100 + 50 − 20 (refund) + 0 at the boundary's edge = 130; last = 30.
        buy(falling, NOW - 2 * days + timedelta(seconds=1), "100.00")
        buy(falling, NOW - days - timedelta(days=3), "50.00")
        buy(falling, NOW - days - timedelta(days=2), "-20.00", kind="refund")
        buy(falling, NOW - 2 * days, "999.00")  # outside: the window is (now − 60d, now − 30d]
        buy(falling, NOW - days + timedelta(seconds=1), "30.00")
        buy(falling, NOW + timedelta(seconds=1), "500.00")  # after the evaluation
        # mild: before 100 (the last second of the earlier window), last 60: down 40 %.
        buy(mild, NOW - days, "100.00")
        buy(mild, NOW, "60.00")
        # new: nothing before, so no drop.
        buy(new, NOW - timedelta(days=1), "10.00")
        # foreign: spent in another currency only.
        buy(foreign, NOW - days - timedelta(days=1), "100.00", currency="EUR")
        session.flush()

        before, last = Decimal("130.00"), Decimal("30.00")
        expected_drop = float(round((before - last) / before * 100, 2))
        run(as_app, shop.org.id, [], NOW, delivery_settings)
        [alert] = alerts_of(session, shop.org.id)
        assert alert.customer_id == falling.id
        assert alert.details == {
            "days": 30,
            "recent_spend": "30.00",
            "previous_spend": "130.00",
            "drop_percent": expected_drop,
        }
        assert expected_drop == 76.92
        assert alert.message == "Spend in the last 30 days down 76.92% (130.00 → 30.00)"

    def test_a_drop_of_exactly_the_percent_counts(self, session, shop, delivery_settings, as_app):
        make_rule(session, shop, name="Spend", kind="spend_drop", params={"days": 7, "percent": 40})
        customer = create_customer(session, shop.org)
        create_transaction(
            session,
            shop.org,
            customer,
            occurred_at=NOW - timedelta(days=10),
            amount=Decimal("100.00"),
        )
        create_transaction(
            session,
            shop.org,
            customer,
            occurred_at=NOW - timedelta(days=1),
            amount=Decimal("60.00"),
        )
        run(as_app, shop.org.id, [], NOW, delivery_settings)
        assert [a.details["drop_percent"] for a in alerts_of(session, shop.org.id)] == [40.0]


class TestTenantIsolation:
    def test_an_evaluation_touches_its_own_organisation_only(
        self, session, shop, customer, delivery_settings, as_app
    ):
        from tests.alerts.conftest import Shop
        from tests.builders import create_org, create_user

        other_org = create_org(session)
        other = Shop(other_org, create_user(session, other_org, role="admin"), None, None)
        make_rule(session, other)
        make_rule(session, shop)
        foreign_customer = create_customer(session, other_org)
        # Signals naming another organisation's customer raise nothing anywhere.
        result = run(
            as_app,
            shop.org.id,
            [drop(foreign_customer.id, 90, 10), drop(customer.id, 90, 10)],
            NOW,
            delivery_settings,
        )
        assert result["alerts_raised"] == 1
        assert [a.customer_id for a in alerts_of(session, shop.org.id)] == [customer.id]
        assert alerts_of(session, other_org.id) == []


class TestManyCustomers:
    def test_thousands_of_customers_raise_one_alert_each_once(
        self, session, shop, delivery_settings, as_app
    ):
        from sqlalchemy import text

        make_rule(
            session,
            shop,
            name="Spend",
            kind="spend_drop",
            params={"days": 30, "percent": 50},
            emails=["team@shop.example"],
        )
        session.flush()
        count = 2500
        session.execute(
            text(
                "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
                "SELECT :org, 'M' || n, 'Many ' || n, 'customer' FROM generate_series(1, :n) n"
            ),
            {"org": shop.org.id, "n": count},
        )
        session.execute(
            text(
                "INSERT INTO transactions (org_id, customer_id, occurred_at, amount, currency, "
                "category, description, quantity, kind) "
                "SELECT org_id, id, :at, 100, 'USD', 'Books', '', 1, 'purchase' "
                "FROM customers WHERE org_id = :org"
            ),
            {"org": shop.org.id, "at": NOW - timedelta(days=45)},
        )
        with as_app(shop.org.id) as conn:
            first = evaluate(conn, shop.org.id, [], NOW)
            second = evaluate(conn, shop.org.id, [], NOW + timedelta(hours=1))
        assert (first["alerts_raised"], first["deliveries_queued"]) == (count, count)
        assert (second["alerts_raised"], second["deliveries_queued"]) == (0, 0)
