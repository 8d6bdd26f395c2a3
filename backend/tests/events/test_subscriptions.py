"""Plans, shops, invoices and payments follow the events that name them, whatever order they
arrive in; a payment_succeeded is also a "Subscription" transaction, written once; /plans."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from spendlens.events import service
from spendlens.models import Customer, Invoice, Payment, Plan, Shop, Transaction
from tests.builders import create_org, create_user, headers_for
from tests.events.helpers import event, post

PLANS = "/api/v1/plans"


@pytest.fixture
def org(session):
    return create_org(session)


@pytest.fixture
def analyst(session, org):
    return headers_for(create_user(session, org, role="analyst"))


def _paid(customer, when, payment_id, amount="29.00", **extra):
    props = {"payment_id": payment_id, "amount": amount, "currency": "USD", **extra}
    return event("payment_succeeded", customer, when, props)


def _shop(session, org, shop_id):
    return session.execute(
        select(Shop).where(Shop.org_id == org.id, Shop.shop_id == shop_id)
    ).scalar_one()


class TestPlans:
    def test_post_and_list(self, client, org, analyst):
        body = {"name": "Pro", "price": "49.90", "currency": "EUR", "interval": "month"}
        created = client.post(PLANS, json=body, headers=analyst)
        assert created.status_code == 201, created.text
        assert created.json() | {"id": 0, "created_at": ""} == {
            "id": 0,
            "plan_id": "Pro",
            "name": "Pro",
            "price": "49.90",
            "currency": "EUR",
            "interval": "month",
            "created_at": "",
        }
        listed = client.get(PLANS, headers=analyst).json()
        assert listed["total"] == 1 and listed["items"][0]["name"] == "Pro"

    def test_a_name_or_plan_id_twice_is_409(self, client, org, analyst):
        body = {
            "name": "Pro",
            "price": "49.90",
            "currency": "EUR",
            "interval": "year",
            "plan_id": "p",
        }
        assert client.post(PLANS, json=body, headers=analyst).status_code == 201
        assert client.post(PLANS, json={**body, "plan_id": "q"}, headers=analyst).status_code == 409
        assert (
            client.post(PLANS, json={**body, "name": "Other"}, headers=analyst).status_code == 409
        )

    def test_a_plan_named_by_events_first_is_completed_by_a_post(
        self, client, session, org, analyst
    ):
        post(
            client,
            analyst,
            [
                event(
                    "shop_created", "c", "2026-01-01T00:00:00Z", {"shop_id": "s", "plan_id": "gold"}
                )
            ],
        )
        placeholder = client.get(PLANS, headers=analyst).json()["items"][0]
        assert (placeholder["plan_id"], placeholder["price"]) == ("gold", None)
        body = {
            "name": "Gold",
            "price": "99.00",
            "currency": "USD",
            "interval": "month",
            "plan_id": "gold",
        }
        completed = client.post(PLANS, json=body, headers=analyst)
        assert completed.status_code == 201
        assert completed.json()["id"] == placeholder["id"]
        assert _shop(session, org, "s").plan_id == placeholder["id"]

    def test_viewers_read_but_cannot_post(self, client, session, org):
        viewer = headers_for(create_user(session, org, role="viewer"))
        assert client.get(PLANS, headers=viewer).status_code == 200
        body = {"name": "Pro", "price": "1.00", "currency": "EUR", "interval": "month"}
        assert client.post(PLANS, json=body, headers=viewer).status_code == 403

    def test_another_orgs_plans_are_invisible(self, client, session, org, analyst):
        body = {"name": "Pro", "price": "1.00", "currency": "EUR", "interval": "month"}
        client.post(PLANS, json=body, headers=analyst)
        other = headers_for(create_user(session, create_org(session), role="analyst"))
        assert client.get(PLANS, headers=other).json()["total"] == 0
        assert client.post(PLANS, json=body, headers=other).status_code == 201


class TestShops:
    def test_shop_follows_creation_plan_changes_and_deletion_in_any_order(self, session, org):
        batch = [
            event(
                "shop_created", "c", "2026-01-10T00:00:00Z", {"shop_id": "s1", "plan_id": "basic"}
            ),
            event(
                "plan_selected", "c", "2026-02-10T00:00:00Z", {"shop_id": "s1", "plan_id": "pro"}
            ),
            event(
                "plan_selected", "c", "2026-03-10T00:00:00Z", {"shop_id": "s1", "plan_id": "max"}
            ),
            event("shop_deleted", "c", "2026-04-10T00:00:00Z", {"shop_id": "s1"}),
        ]
        # Late arrivals: the deletion, the latest plan, the creation, then an older plan.
        for index in (3, 2, 0, 1):
            service.ingest(session, org.id, [batch[index]])
        shop = _shop(session, org, "s1")
        plans = {
            p.id: p.plan_id
            for p in session.execute(select(Plan).where(Plan.org_id == org.id)).scalars()
        }
        assert plans[shop.plan_id] == "max"
        assert shop.created_at.isoformat() == "2026-01-10T00:00:00+00:00"
        assert shop.deleted_at.isoformat() == "2026-04-10T00:00:00+00:00"
        assert shop.plan_selected_at.isoformat() == "2026-03-10T00:00:00+00:00"
        customer = session.get(Customer, (org.id, shop.customer_id))
        assert customer.external_id == "c"

    def test_the_same_order_in_one_batch_gives_the_same_shop(self, session, org):
        batch = [
            event("shop_deleted", "c", "2026-04-10T00:00:00Z", {"shop_id": "s1"}),
            event(
                "plan_selected", "c", "2026-03-10T00:00:00Z", {"shop_id": "s1", "plan_id": "max"}
            ),
            event(
                "shop_created", "c", "2026-01-10T00:00:00Z", {"shop_id": "s1", "plan_id": "basic"}
            ),
        ]
        service.ingest(session, org.id, batch)
        shop = _shop(session, org, "s1")
        assert (
            session.execute(
                select(Plan.plan_id).where(Plan.org_id == org.id, Plan.id == shop.plan_id)
            ).scalar_one()
            == "max"
        )
        assert (shop.created_at.month, shop.deleted_at.month) == (1, 4)


class TestPayments:
    def test_a_successful_payment_is_a_subscription_transaction_once(
        self, client, session, org, analyst
    ):
        client.post(
            PLANS,
            json={
                "name": "Pro plan",
                "price": "29.00",
                "currency": "USD",
                "interval": "month",
                "plan_id": "pro",
            },
            headers=analyst,
        )
        batch = [
            event("shop_created", "c", "2026-01-01T00:00:00Z", {"shop_id": "s", "plan_id": "pro"}),
            _paid("c", "2026-01-02T00:00:00Z", "pay-1", invoice_id="inv-1"),
        ]
        post(client, analyst, batch)
        post(client, analyst, batch)  # sent again
        # A new event naming the same payment stores the event but no second payment.
        post(client, analyst, [_paid("c", "2026-01-02T00:00:01Z", "pay-1")])
        transactions = (
            session.execute(select(Transaction).where(Transaction.org_id == org.id)).scalars().all()
        )
        assert len(transactions) == 1
        tx = transactions[0]
        assert (tx.kind, tx.category, tx.description, tx.amount, tx.currency) == (
            "purchase",
            "Subscription",
            "Pro plan",
            Decimal("29.00"),
            "USD",
        )
        assert tx.external_id == batch[1]["event_id"]
        assert tx.occurred_at.isoformat() == "2026-01-02T00:00:00+00:00"
        payments = session.execute(select(Payment).where(Payment.org_id == org.id)).scalars().all()
        assert [(p.payment_id, p.status) for p in payments] == [("pay-1", "succeeded")]
        invoice = session.execute(select(Invoice).where(Invoice.org_id == org.id)).scalar_one()
        assert (invoice.invoice_id, invoice.status) == ("inv-1", "paid")

    def test_failed_payments_are_payments_but_not_transactions(self, session, org):
        service.ingest(
            session,
            org.id,
            [
                event(
                    "payment_failed",
                    "c",
                    "2026-01-02T00:00:00Z",
                    {
                        "invoice_id": "inv-9",
                        "amount": "10.00",
                        "currency": "EUR",
                        "reason": "card declined",
                    },
                ),
            ],
        )
        payment = session.execute(select(Payment).where(Payment.org_id == org.id)).scalar_one()
        assert (payment.status, payment.reason, payment.payment_id) == (
            "failed",
            "card declined",
            None,
        )
        assert (
            session.execute(select(Transaction).where(Transaction.org_id == org.id)).first() is None
        )
        invoice = session.execute(select(Invoice).where(Invoice.org_id == org.id)).scalar_one()
        assert invoice.status == "failed"
        # The invoice paid later, arriving out of order with an earlier failure.
        service.ingest(
            session,
            org.id,
            [
                _paid("c", "2026-01-05T00:00:00Z", "pay-9", invoice_id="inv-9", amount="10.00"),
                event(
                    "payment_failed",
                    "c",
                    "2026-01-01T00:00:00Z",
                    {"invoice_id": "inv-9", "amount": "10.00", "currency": "EUR"},
                ),
            ],
        )
        session.refresh(invoice)
        assert (invoice.status, invoice.paid_at.day, invoice.issued_at.day) == ("paid", 5, 1)

    def test_the_description_is_the_plan_of_the_shop_open_at_the_payment(self, session, org):
        service.ingest(
            session,
            org.id,
            [
                event(
                    "shop_created",
                    "c",
                    "2026-01-01T00:00:00Z",
                    {"shop_id": "s", "plan_id": "basic"},
                ),
                event(
                    "plan_selected", "c", "2026-03-01T00:00:00Z", {"shop_id": "s", "plan_id": "pro"}
                ),
                _paid("c", "2026-03-05T00:00:00Z", "p1"),
                _paid("d", "2026-03-05T00:00:00Z", "p2"),  # no shop: the category
                _paid(
                    "d", "2026-03-06T00:00:00Z", "p3", plan_id="named"
                ),  # names a plan that does not exist
            ],
        )
        rows = session.execute(
            select(Transaction.occurred_at, Transaction.description)
            .where(Transaction.org_id == org.id)
            .order_by(Transaction.occurred_at, Transaction.description)
        ).all()
        assert sorted(d for _, d in rows) == ["Subscription", "Subscription", "pro"]
        assert [d for when, d in rows if when.day == 6] == ["Subscription"]
