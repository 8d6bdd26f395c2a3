"""A small organisation whose customers exercise every component of the health score: purchases
in and out of the trend windows, a refund, another currency, logins, features, tickets opened,
closed and reopened, failed payments, and events after the day that must not count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest

from spendlens.models import Customer, Organization
from tests.builders import create_customer, create_org, create_transaction, create_user, headers_for
from tests.health.helpers import Facts, add_event, at

AS_OF = date(2026, 6, 30)


@dataclass
class Scenario:
    org: Organization
    customers: dict[str, Customer]
    facts: dict[str, Facts]
    tracks: set[str]
    viewer: dict[str, str]
    analyst: dict[str, str]
    admin: dict[str, str]


class Builder:
    def __init__(self, session, org):
        self.session, self.org = session, org
        self.customers: dict[str, Customer] = {}
        self.facts: dict[str, Facts] = {}
        self.tracks: set[str] = set()

    def customer(self, key: str) -> Customer:
        self.customers[key] = create_customer(self.session, self.org, name=f"Customer {key}")
        self.facts[key] = Facts()
        return self.customers[key]

    def buy(self, key, days_before, amount, kind="purchase", currency=None, hour=12):
        moment = at(AS_OF - timedelta(days=days_before), hour)
        currency = currency or self.org.base_currency
        create_transaction(
            self.session,
            self.org,
            self.customers[key],
            occurred_at=moment,
            amount=Decimal(amount),
            kind=kind,
            currency=currency,
        )
        self.facts[key].transactions.append((moment, Decimal(amount), kind, currency))

    def event(self, key, type_, days_before, hour=12, **properties):
        moment = at(AS_OF - timedelta(days=days_before), hour)
        add_event(self.session, self.org, self.customers[key], type_, moment, **properties)
        self.facts[key].events.append((moment, type_, properties))
        if moment.date() <= AS_OF:
            self.tracks.add(type_)


def build_scenario(session) -> Scenario:
    org = create_org(session, base_currency="EUR")
    b = Builder(session, org)
    # A: buying steadily, active, one ticket closed, one reopened, one failed payment.
    b.customer("A")
    for days, amount in ((5, "100.00"), (40, "50.00"), (100, "30.00"), (150, "20.00")):
        b.buy("A", days, amount)
    b.buy("A", 3, "999.00", currency="USD")  # another currency: never counted
    for days in (1, 2, 4, 8, 15, 29):
        b.event("A", "login", days)
    b.event("A", "login", 31)  # outside the 30 days
    b.event("A", "feature_used", 10, feature="reports")
    b.event("A", "feature_used", 11, feature="export")
    b.event("A", "feature_used", 12, feature="reports")
    b.event("A", "feature_used", 120, feature="api")  # outside the 90 days
    b.event("A", "support_ticket_opened", 20, ticket_id="T1")
    b.event("A", "support_ticket_closed", 18, ticket_id="T1")
    b.event("A", "support_ticket_opened", 10, ticket_id="T2")
    b.event("A", "support_ticket_closed", 8, ticket_id="T2")
    b.event("A", "support_ticket_opened", 3, ticket_id="T2")  # reopened: open
    b.event("A", "payment_failed", 20, amount="10.00", currency="EUR")
    b.event("A", "payment_failed", 95, amount="10.00", currency="EUR")  # outside the 90 days
    # B: one old purchase only; no events.
    b.customer("B")
    b.buy("B", 200, "80.00")
    # C: never bought; very active; a ticket opened and closed at the same instant; 4 failures.
    b.customer("C")
    for days in range(0, 15):
        b.event("C", "login", days, hour=9)
    for i, feature in enumerate(("a", "b", "c", "d", "e", "f")):
        b.event("C", "feature_used", 30 + i, feature=feature)
    b.event("C", "support_ticket_opened", 1, ticket_id=7)
    b.event("C", "support_ticket_closed", 1, ticket_id=7)
    for days in (5, 6, 7, 8):
        b.event("C", "payment_failed", days, amount="5.00", currency="EUR")
    # D: bought in the previous window only, refunded in the recent one; events after the day.
    b.customer("D")
    b.buy("D", 120, "40.00")
    b.buy("D", 10, "-10.00", kind="refund")
    b.event("D", "login", -1)  # the day after: not counted
    b.event("D", "support_ticket_opened", -2, ticket_id="late")
    b.buy("D", -1, "500.00")
    # E: no purchase, no event: only the event components, all at their defaults.
    b.customer("E")
    return Scenario(
        org=org,
        customers=b.customers,
        facts=b.facts,
        tracks=b.tracks,
        viewer=headers_for(create_user(session, org, role="viewer")),
        analyst=headers_for(create_user(session, org, role="analyst")),
        admin=headers_for(create_user(session, org, role="admin")),
    )


@pytest.fixture
def scenario(session) -> Scenario:
    return build_scenario(session)
