"""The stage rules as documented, one scenario each (pure Python, no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from spendlens.journey.rules import EventFact, Stage, derive_journey, stage_at
from spendlens.journey.service import day_transitions

T0 = datetime(2025, 5, 1, 9, tzinfo=UTC)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def ev(days: float, kind: str, shop: str | None = None, event_id: str = "") -> EventFact:
    return EventFact(at(days), event_id or f"{days:08.3f}-{kind}", kind, shop)


def stages(events, churn_after_days=60):
    journey = derive_journey(events, churn_after_days)
    return [(i.stage.value, i.valid_from, i.valid_to, i.reactivation) for i in journey.intervals]


def test_lead_prospect_customer_then_churn_exactly_at_the_deadline():
    history = [
        ev(0, "signed_up"),
        ev(1, "plan_selected"),
        ev(3, "payment_succeeded"),
        ev(20, "login"),
    ]
    assert stages(history, 30) == [
        ("lead", at(0), at(1), False),
        ("prospect", at(1), at(3), False),
        ("customer", at(3), at(33), False),
        ("churned", at(33), None, False),
    ]
    intervals = derive_journey(history, 30).intervals
    assert stage_at(intervals, at(33) - timedelta(microseconds=1)) is Stage.customer
    assert stage_at(intervals, at(33)) is Stage.churned
    assert stage_at(intervals, at(-1)) is None


def test_a_payment_at_the_deadline_keeps_the_customer():
    history = [ev(0, "payment_succeeded"), ev(30, "payment_succeeded")]
    assert stages(history, 30) == [
        ("customer", at(0), at(60), False),
        ("churned", at(60), None, False),
    ]


def test_the_first_event_of_any_type_makes_a_lead_and_late_signups_change_nothing():
    assert stages([ev(0, "login"), ev(2, "signed_up")]) == [("lead", at(0), None, False)]


def test_a_first_payment_passes_every_step_at_once():
    journey = derive_journey([ev(0, "payment_succeeded")], 60)
    assert journey.milestones.first_seen_at == journey.milestones.prospect_at == at(0)
    assert journey.milestones.customer_at == at(0)
    assert [i.stage for i in journey.intervals] == [Stage.customer, Stage.churned]


def test_deleting_the_last_open_shop_churns_and_a_new_payment_reactivates():
    history = [
        ev(0, "shop_created", "a"),
        ev(1, "shop_created", "b"),
        ev(2, "payment_succeeded"),
        ev(3, "shop_deleted", "a"),
        ev(4, "shop_deleted", "x"),  # not open: nothing
        ev(5, "shop_deleted", "b"),
        ev(9, "payment_succeeded"),
    ]
    assert stages(history) == [
        ("prospect", at(0), at(2), False),
        ("customer", at(2), at(5), False),
        ("churned", at(5), at(9), False),
        ("customer", at(9), at(69), True),
        ("churned", at(69), None, False),
    ]
    assert derive_journey(history, 60).milestones.reactivations == 1


def test_an_account_deletion_churns_anyone_and_closes_their_shops():
    history = [
        ev(0, "shop_created", "a"),
        ev(1, "account_deleted"),
        ev(2, "payment_succeeded"),  # reactivation
        ev(3, "shop_deleted", "a"),  # closed with the account: nothing
    ]
    assert stages(history, 10) == [
        ("prospect", at(0), at(1), False),
        ("churned", at(1), at(2), False),
        ("customer", at(2), at(12), True),
        ("churned", at(12), None, False),
    ]
    assert stages([ev(0, "signed_up"), ev(1, "account_deleted")]) == [
        ("lead", at(0), at(1), False),
        ("churned", at(1), None, False),
    ]


def test_nothing_but_a_payment_leaves_churned():
    history = [ev(0, "account_deleted"), ev(1, "shop_created", "a"), ev(2, "plan_selected")]
    assert stages(history) == [("churned", at(0), None, False)]


def test_order_is_occurred_at_then_event_id_whatever_the_arrival():
    history = [
        ev(5, "shop_deleted", "a", event_id="b"),
        ev(5, "shop_created", "a", event_id="a"),
        ev(0, "signed_up"),
    ]
    # At t=5 the shop is created (id "a") then deleted (id "b"): churned.
    assert stages(history) == [("lead", at(0), at(5), False), ("churned", at(5), None, False)]
    assert derive_journey(history, 60).milestones.prospect_at == at(5)
    assert stages(list(reversed(history))) == stages(history)


def test_day_transitions_keep_the_stage_at_each_days_end():
    history = [ev(0, "signed_up"), ev(0.1, "plan_selected"), ev(2, "payment_succeeded")]
    moves = day_transitions(derive_journey(history, 1).intervals)
    day = T0.date()
    assert moves == [
        (day, "new", "prospect"),
        (day + timedelta(days=2), "prospect", "customer"),
        (day + timedelta(days=3), "customer", "churned"),
    ]
