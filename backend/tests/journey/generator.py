"""A random event log for the journey tests: customers who sign up, choose plans, open and delete
shops, pay (with gaps longer than the churn window), fail to pay, delete their account and come
back; sent out of order, in batches, with duplicates (some re-sent with changed contents)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from tests.journey.reference import Ev

START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_DAYS = 420


def _event_id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def customer_history(rng: random.Random, external_id: str, churn_days: int) -> list[Ev]:
    events: list[Ev] = []
    at = START + timedelta(seconds=rng.randrange(SPAN_DAYS * 86400 // 2))

    def add(kind: str, when: datetime, **properties) -> None:
        events.append(Ev(external_id, _event_id(rng), kind, when, properties))

    def later(max_days: float) -> datetime:
        nonlocal at
        at = at + timedelta(seconds=rng.randrange(1, int(max_days * 86400)))
        return at

    first = rng.random()
    if first < 0.8:
        add("signed_up", at, email=f"{external_id.lower()}@example.com")
    elif first < 0.9:
        add("login", at)  # a customer first seen by another event
    else:
        add("payment_succeeded", at, payment_id=_event_id(rng), amount="10.00", currency="USD")
    shops = []
    for _ in range(rng.randrange(0, 12)):
        roll = rng.random()
        when = later(churn_days * 1.4)
        if roll < 0.15:
            add("plan_selected", when, plan_id="basic", shop_id=f"{external_id}-s{len(shops)}")
        elif roll < 0.3:
            shop = f"{external_id}-s{len(shops)}"
            shops.append(shop)
            add("shop_created", when, shop_id=shop, plan_id="basic")
        elif roll < 0.6:
            add(
                "payment_succeeded", when, payment_id=_event_id(rng), amount="29.00", currency="USD"
            )
            if rng.random() < 0.3:  # a payment exactly at the churn deadline keeps the customer
                add(
                    "payment_succeeded",
                    when + timedelta(days=churn_days),
                    payment_id=_event_id(rng),
                    amount="29.00",
                    currency="USD",
                )
        elif roll < 0.68:
            add("payment_failed", when, amount="29.00", currency="USD", reason="card declined")
        elif roll < 0.78 and shops:
            add("shop_deleted", when, shop_id=rng.choice(shops))
        elif roll < 0.84:
            add("account_deleted", when)
        elif roll < 0.92:
            add("login", when)
        else:
            add("feature_used", when, feature="reports")
    if shops and rng.random() < 0.3:  # deleted account, comes back, deletes an old shop
        add("account_deleted", later(10))
        add(
            "payment_succeeded", later(10), payment_id=_event_id(rng), amount="9.00", currency="USD"
        )
        add("shop_deleted", later(10), shop_id=rng.choice(shops))
    if rng.random() < 0.1 and len(events) > 1:  # two events at one instant
        twin = events[-1]
        add("login", twin.occurred_at)
    return events


def event_log(seed: int, customers: int, churn_days: int) -> list[Ev]:
    rng = random.Random(seed)
    log: list[Ev] = []
    for n in range(customers):
        log.extend(customer_history(rng, f"J{seed}-{n:03d}", churn_days))
    return log


def sendings(seed: int, log: list[Ev], batch_size: int = 37) -> list[list[Ev]]:
    """The log shuffled (late events arrive after later ones), in batches, with duplicates: some
    events re-sent unchanged, some re-sent with another time or properties (which must be
    ignored), and one whole batch sent twice."""
    rng = random.Random(seed + 1)
    shuffled = list(log)
    rng.shuffle(shuffled)
    resent = []
    for ev in rng.sample(log, k=max(1, len(log) // 10)):
        if rng.random() < 0.5:
            resent.append(ev)
        else:
            resent.append(
                Ev(ev.customer, ev.event_id, ev.type, ev.occurred_at + timedelta(days=3), {})
            )
    stream = shuffled + resent
    batches = [stream[i : i + batch_size] for i in range(0, len(stream), batch_size)]
    batches.insert(len(batches) // 2, list(batches[0]))
    return batches
