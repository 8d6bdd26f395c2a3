"""The demo organisations' event history, drawn from their seeded customers and purchases.

Every demo customer signs up (on their signup date), selects a plan and opens a shop before
their first purchase. Their payments are their purchases: the first purchase of each calendar
month is a `payment_succeeded` whose `payment_id` is that purchase's transaction external id
(`T0000123`) and whose amount, currency and time are the purchase's. So the seed records these
payments without writing "Subscription" transactions (they already exist, as the purchases), and
the demo's spending figures stay what they were. A month without a purchase is a month without a
payment: customers who pause for more than `churn_after_days` churn and come back as they buy
again. Some payments fail first (a retry that succeeds days later on the same invoice); most
customers who stopped buying delete their shop, some their account. Logins, feature use and
support tickets are spread over each customer's active time. On top, a share of new signups
(`LEAD_SHARE` of the customer count, external ids `L000001`…) never convert: some only sign up,
some also choose a plan and open a shop (and some delete it), none pays.

The draws come from a random stream of their own, so the customers and transactions seeded
before are exactly what they were without events.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, text

from spendlens.events import repository
from spendlens.events.partitions import ensure_partitions
from spendlens.subscriptions import repository as subscriptions

LEAD_SHARE = 0.1
LEADS_WITH_SHOP = 0.4
FAILED_PAYMENT_SHARE = 0.04
CHURNED_DELETING_SHOP = 0.6
CHURNED_DELETING_ACCOUNT = 0.3
PLAN_CHANGE_SHARE = 0.1
TICKET_SHARE = 0.15
LOGINS_PER_ACTIVE_MONTH = 0.3
FEATURE_USE_PER_LOGIN = 0.3
FEATURES = ("reports", "export", "segments", "dashboard", "alerts", "api")
FAIL_REASONS = ("card_declined", "insufficient_funds", "expired_card")
# (plan_id, name, monthly price in the organisation's currency, weight)
PLANS = (
    ("starter", "Starter", "9.00", 5),
    ("growth", "Growth", "29.00", 3),
    ("pro", "Pro", "79.00", 1),
)
CHUNK = 5000
_NAMESPACE = uuid.UUID("5d0c4f2e-7a53-4c1e-9a54-3d6f0e8b1c27")


@dataclass(frozen=True)
class DemoCustomer:
    """What the event history of one seeded customer is drawn from."""

    external_id: str
    name: str
    email: str
    signup_date: date
    churned: bool


@dataclass(frozen=True)
class DemoPurchase:
    """A seeded purchase (refunds are not payments): seconds since `history_start` 00:00 UTC."""

    at: float
    customer: int  # index into the customers
    cents: int
    external_id: str


@dataclass
class _Drawn:
    type: str
    customer: str
    at: float
    properties: dict[str, Any]


def _stamp(start: datetime, seconds: float) -> str:
    return (start + timedelta(seconds=seconds)).isoformat()


class _History:
    def __init__(self, slug: str, seed: int, as_of: date, history_start: date) -> None:
        self.rng = random.Random(f"spendlens-demo-events:{seed}:{slug}:{as_of.isoformat()}")
        self.slug = slug
        self.start = datetime.combine(history_start, datetime.min.time(), tzinfo=UTC)
        self.end = (as_of - history_start).days * 86400 + 86399.0  # last second of as_of
        self.events: list[_Drawn] = []

    def add(self, type_: str, customer: str, at: float, properties: dict[str, Any] | None = None):
        self.events.append(_Drawn(type_, customer, min(at, self.end), properties or {}))

    def plan(self) -> str:
        return self.rng.choices([p[0] for p in PLANS], weights=[p[3] for p in PLANS])[0]

    def spread(self, first: float, last: float, count: int) -> list[float]:
        return sorted(first + self.rng.random() * max(0.0, last - first) for _ in range(count))


def _customer_history(
    h: _History, customer: DemoCustomer, purchases: list[DemoPurchase], currency: str
) -> None:
    rng, ext = h.rng, customer.external_id
    signup_day = (customer.signup_date - h.start.date()).days * 86400
    first_paid = purchases[0].at
    # Signed up on their signup day, chose a plan and opened a shop before the first purchase.
    signup = signup_day + rng.random() * max(1.0, min(86400.0, first_paid - signup_day) / 2)
    chosen = signup + rng.random() * min(3 * 86400.0, (first_paid - signup) / 2)
    opened = chosen + rng.random() * min(3600.0, (first_paid - chosen) / 2)
    shop_id, plan_id = f"S-{ext}", h.plan()
    h.add("signed_up", ext, signup, {"email": customer.email, "name": customer.name})
    h.add("plan_selected", ext, chosen, {"plan_id": plan_id, "shop_id": shop_id})
    h.add("shop_created", ext, opened, {"shop_id": shop_id, "plan_id": plan_id})

    months: set[str] = set()
    for purchase in purchases:
        month = _stamp(h.start, purchase.at)[:7]
        if month in months:
            continue
        months.add(month)
        amount = f"{purchase.cents // 100}.{purchase.cents % 100:02d}"
        invoice = f"INV-{purchase.external_id}"
        if rng.random() < FAILED_PAYMENT_SHARE and purchase.at - opened > 3 * 86400:
            failed_at = purchase.at - rng.uniform(86400, 3 * 86400)
            props = {"invoice_id": invoice, "amount": amount, "currency": currency}
            h.add("payment_failed", ext, failed_at, {**props, "reason": rng.choice(FAIL_REASONS)})
        h.add(
            "payment_succeeded",
            ext,
            purchase.at,
            {
                "payment_id": purchase.external_id,
                "invoice_id": invoice,
                "amount": amount,
                "currency": currency,
            },
        )
    last_paid = purchases[-1].at
    if rng.random() < PLAN_CHANGE_SHARE and last_paid > first_paid:
        other = rng.choice([p[0] for p in PLANS if p[0] != plan_id])
        when = first_paid + rng.random() * (last_paid - first_paid)
        h.add("plan_selected", ext, when, {"plan_id": other, "shop_id": shop_id})

    active_until = h.end
    if customer.churned and rng.random() < CHURNED_DELETING_SHOP:
        deleted = last_paid + rng.uniform(20, 90) * 86400
        if deleted < h.end:
            h.add("shop_deleted", ext, deleted, {"shop_id": shop_id})
            active_until = deleted
            if rng.random() < CHURNED_DELETING_ACCOUNT:
                h.add("account_deleted", ext, deleted + rng.uniform(3600, 10 * 86400))
    elif customer.churned:
        active_until = min(h.end, last_paid + 30 * 86400)
    _usage(h, ext, signup, active_until)


def _usage(h: _History, ext: str, first: float, last: float) -> None:
    rng = h.rng
    months = max(0.0, (last - first) / (30 * 86400))
    logins = h.spread(first, last, int(months * LOGINS_PER_ACTIVE_MONTH) + 1)
    for at in logins:
        h.add("login", ext, at)
        if rng.random() < FEATURE_USE_PER_LOGIN:
            h.add(
                "feature_used", ext, at + rng.uniform(10, 1800), {"feature": rng.choice(FEATURES)}
            )
    if rng.random() < TICKET_SHARE and last > first:
        opened = first + rng.random() * (last - first)
        ticket = f"TK-{ext}"
        h.add("support_ticket_opened", ext, opened, {"ticket_id": ticket})
        closed = opened + rng.uniform(3600, 5 * 86400)
        if closed < h.end:
            h.add("support_ticket_closed", ext, closed, {"ticket_id": ticket})


def _lead_history(h: _History, number: int, history_days: int) -> tuple[str, str, str, date]:
    """A signup who never pays: (external id, name, email, signup date)."""
    rng = h.rng
    ext = f"L{number:06d}"
    day = min(history_days - 1, int(history_days * rng.random() ** 0.8))
    signup = day * 86400 + rng.uniform(0, 86399)
    name, email = f"Lead {number}", f"lead{number}@example.com"
    h.add("signed_up", ext, signup, {"email": email, "name": name})
    last = min(h.end, signup + rng.uniform(1, 60) * 86400)
    if rng.random() < LEADS_WITH_SHOP:
        chosen = signup + rng.uniform(600, 5 * 86400)
        if chosen < h.end:
            shop_id, plan_id = f"S-{ext}", h.plan()
            h.add("plan_selected", ext, chosen, {"plan_id": plan_id, "shop_id": shop_id})
            h.add("shop_created", ext, chosen + 60, {"shop_id": shop_id, "plan_id": plan_id})
            if rng.random() < 0.2 and chosen + 30 * 86400 < h.end:
                h.add("shop_deleted", ext, chosen + 30 * 86400, {"shop_id": shop_id})
    _usage(h, ext, signup, last)
    return ext, name, email, (h.start + timedelta(seconds=signup)).date()


def seed_events(
    conn: Connection,
    org_id: int,
    *,
    slug: str,
    seed: int,
    as_of: date,
    history_start: date,
    currency: str,
    customers: Sequence[DemoCustomer],
    purchases: Sequence[DemoPurchase],
) -> int:
    """Draw and store the organisation's event history (and its plans, leads, shops, invoices
    and payments); the number of events."""
    h = _History(slug, seed, as_of, history_start)
    by_customer: list[list[DemoPurchase]] = [[] for _ in customers]
    for purchase in purchases:
        by_customer[purchase.customer].append(purchase)
    for customer, bought in zip(customers, by_customer):
        if bought:
            _customer_history(h, customer, sorted(bought, key=lambda p: p.at), currency)
    history_days = (as_of - history_start).days + 1
    leads = [
        _lead_history(h, n, history_days) for n in range(1, round(len(customers) * LEAD_SHARE) + 1)
    ]

    conn.execute(
        text(
            "INSERT INTO plans (org_id, plan_id, name, price, currency, interval) "
            "SELECT :org_id, p->>'plan_id', p->>'name', (p->>'price')::numeric, :currency, 'month' "
            "FROM jsonb_array_elements(CAST(:plans AS jsonb)) p"
        ),
        {
            "org_id": org_id,
            "currency": currency,
            "plans": json.dumps([{"plan_id": p, "name": n, "price": c} for p, n, c, _ in PLANS]),
        },
    )
    if leads:
        shops = {e.customer for e in h.events if e.type == "shop_created"}
        conn.execute(
            text(
                "INSERT INTO customers (org_id, external_id, name, email, signup_date, "
                "lifecycle_stage) SELECT :org_id, l->>'external_id', l->>'name', l->>'email', "
                "(l->>'signup_date')::date, l->>'stage' "
                "FROM jsonb_array_elements(CAST(:leads AS jsonb)) l"
            ),
            {
                "org_id": org_id,
                "leads": json.dumps(
                    [
                        {
                            "external_id": ext,
                            "name": name,
                            "email": email,
                            "signup_date": signed.isoformat(),
                            "stage": "prospect" if ext in shops else "lead",
                        }
                        for ext, name, email, signed in leads
                    ]
                ),
            },
        )
    ids = dict(
        conn.execute(
            text("SELECT external_id, id FROM customers WHERE org_id = :org_id"), {"org_id": org_id}
        ).all()
    )
    ensure_partitions(conn, history_start, as_of)
    _store(conn, org_id, h, ids)
    return len(h.events)


def _store(conn: Connection, org_id: int, h: _History, ids: dict[str, int]) -> None:
    h.events.sort(key=lambda e: (e.at, e.customer, e.type))
    shop_rows, payment_rows, invoice_rows, records = [], [], [], []
    for n, e in enumerate(h.events):
        event_id = str(uuid.uuid5(_NAMESPACE, f"{h.slug}:{n}:{e.customer}:{e.type}"))
        when = _stamp(h.start, e.at)
        customer_id = ids[e.customer]
        records.append(
            {
                "event_id": event_id,
                "customer_id": customer_id,
                "type": e.type,
                "occurred_at": when,
                "properties": e.properties,
            }
        )
        base = {"customer_id": customer_id, "type": e.type, "occurred_at": when}
        if e.type in ("shop_created", "plan_selected", "shop_deleted"):
            shop_rows.append(
                {**base, "shop_id": e.properties["shop_id"], "plan_id": e.properties.get("plan_id")}
            )
        elif e.type in ("payment_succeeded", "payment_failed"):
            row = {**base, "event_id": event_id, **e.properties}
            payment_rows.append(row)
            invoice_rows.append(row)
    for first in range(0, len(records), CHUNK):
        repository.insert_events(conn, org_id, json.dumps(records[first : first + CHUNK]))
    # One statement for every shop and every invoice: their rows aggregate all their events.
    subscriptions.upsert_shops(conn, org_id, json.dumps(shop_rows))
    for first in range(0, len(payment_rows), CHUNK):
        chunk = json.dumps(payment_rows[first : first + CHUNK])
        subscriptions.record_payments(conn, org_id, chunk, record_transactions=False)
    subscriptions.upsert_invoices(conn, org_id, json.dumps(invoice_rows))
