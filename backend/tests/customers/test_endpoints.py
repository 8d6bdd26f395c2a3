"""Customers API: search, filters, sorting and totals equal an independent computation over rows
read with plain SQL; monthly spend is gapless; writes follow roles; deleting a customer with
transactions needs `cascade`; tenancy holds; bad input gets a 422 JSON error."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import text

from tests.builders import (
    create_customer,
    create_org,
    create_transaction,
    create_user,
    headers_for,
)

CUSTOMERS = "/api/v1/customers"


@dataclass
class Totals:
    spend: Decimal = Decimal("0.00")
    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    monthly: dict[date, tuple[Decimal, int]] = field(default_factory=dict)


@dataclass
class Reference:
    """One organisation's customers and totals, computed in Python from rows read with plain SQL."""

    customers: dict[int, dict]
    name_order: list[int]  # ORDER BY name, id in the database's own collation
    totals: dict[int, Totals]
    transactions: dict[int, list]  # rows with id, customer_id, occurred_at, amount, kind, currency


def load_reference(engine, slug: str) -> Reference:
    with engine.connect() as conn:
        org = conn.execute(
            text("SELECT id, base_currency FROM organizations WHERE slug = :slug"), {"slug": slug}
        ).one()
        customers = {
            r["id"]: dict(r)
            for r in conn.execute(
                text("""
                    SELECT id, external_id, name, email, country, signup_date, lifecycle_stage
                    FROM customers WHERE org_id = :org
                    """),
                {"org": org.id},
            ).mappings()
        }
        name_order = list(
            conn.execute(
                text("SELECT id FROM customers WHERE org_id = :org ORDER BY name, id"),
                {"org": org.id},
            ).scalars()
        )
        rows = conn.execute(
            text("""
                SELECT id, customer_id, occurred_at, amount, kind, currency
                FROM transactions WHERE org_id = :org
                """),
            {"org": org.id},
        ).all()
        transactions: dict[int, list] = defaultdict(list)
        for r in rows:
            transactions[r.customer_id].append(r)
    totals = {}
    for customer_id in customers:
        t = Totals()
        monthly: dict[date, list] = defaultdict(lambda: [Decimal("0.00"), 0])
        for r in transactions.get(customer_id, ()):
            if r.currency != org.base_currency:
                continue
            at = r.occurred_at
            utc = at.astimezone(UTC)
            month = date(utc.year, utc.month, 1)
            t.spend += r.amount
            monthly[month][0] += r.amount
            if r.kind == "purchase":
                t.count += 1
                monthly[month][1] += 1
                t.first = at if t.first is None else min(t.first, at)
                t.last = at if t.last is None else max(t.last, at)
        t.monthly = {m: (s, n) for m, (s, n) in monthly.items()}
        totals[customer_id] = t
    return Reference(customers, name_order, totals, dict(transactions))


@pytest.fixture(scope="module")
def acme_ref(engine) -> Reference:
    return load_reference(engine, "acme-retail")


@pytest.fixture(scope="module")
def globex_ref(engine) -> Reference:
    return load_reference(engine, "globex")


def fetch_all(client, headers, params=None):
    """Every item of a listing, following pagination."""
    items, skip = [], 0
    while True:
        page = client.get(
            CUSTOMERS, params={**(params or {}), "skip": skip, "limit": 100}, headers=headers
        )
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        skip += 100
        if skip >= body["total"]:
            assert len(items) == body["total"]
            return items


def timestamp(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value is not None else None


def money(value: Decimal) -> str:
    return f"{value:.2f}"


class TestListCustomers:
    def test_default_page_is_sorted_by_name_with_totals(self, client, auth_headers, acme_ref):
        response = client.get(CUSTOMERS, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 200
        body = response.json()
        # 2,000 buying customers and 200 signups who never converted (the demo's events).
        assert body["total"] == len(acme_ref.customers) == 2200
        assert body["skip"] == 0 and body["limit"] == 20
        assert [i["id"] for i in body["items"]] == acme_ref.name_order[:20]
        first = body["items"][0]
        assert set(first) == {
            "id",
            "external_id",
            "name",
            "email",
            "country",
            "signup_date",
            "lifecycle_stage",
            "total_spend",
            "transaction_count",
            "first_purchase",
            "last_purchase",
            "segment",
            "clv",
            "p_alive",
            "health_score",
            "health_band",
        }
        assert isinstance(first["total_spend"], str)
        # No RFM snapshot, CLV fit or health computation yet in the demo data.
        assert (first["segment"], first["clv"], first["p_alive"]) == (None, None, None)
        assert (first["health_score"], first["health_band"]) == (None, None)

    @pytest.mark.parametrize("needle", ["sMiTh", "ASHLEY.J", "c00012", "JOHNSON1"])
    def test_search_is_case_insensitive_over_name_email_and_external_id(
        self, client, auth_headers, acme_ref, needle
    ):
        lowered = needle.lower()
        expected = {
            c["id"]
            for c in acme_ref.customers.values()
            if lowered in c["name"].lower()
            or lowered in (c["email"] or "").lower()
            or lowered in (c["external_id"] or "").lower()
        }
        items = fetch_all(client, auth_headers("analyst@acme.example"), {"q": needle})
        assert {i["id"] for i in items} == expected
        assert expected

    def test_like_wildcards_in_search_are_literal(self, client, auth_headers):
        headers = auth_headers("analyst@acme.example")
        for needle in ("%", "_", "\\"):
            body = client.get(CUSTOMERS, params={"q": needle}, headers=headers).json()
            assert body["total"] == 0, needle

    def test_country_signup_range_and_stage_filters_combine(self, client, auth_headers, acme_ref):
        start, end = date(2024, 1, 1), date(2025, 6, 30)
        expected = {
            c["id"]
            for c in acme_ref.customers.values()
            if c["country"] in ("CA", "GB") and start <= c["signup_date"] <= end
        }
        params = {"country": ["CA", "GB"], "signup_from": "2024-01-01", "signup_to": "2025-06-30"}
        items = fetch_all(client, auth_headers("viewer@acme.example"), params)
        assert {i["id"] for i in items} == expected
        assert expected

        churned = {i for i in expected if acme_ref.customers[i]["lifecycle_stage"] == "churned"}
        items = fetch_all(
            client,
            auth_headers("viewer@acme.example"),
            {**params, "lifecycle_stage": "churned"},
        )
        assert {i["id"] for i in items} == churned
        assert churned

    def test_open_ended_signup_range(self, client, auth_headers, acme_ref):
        since = date(2026, 1, 1)
        expected = {c["id"] for c in acme_ref.customers.values() if c["signup_date"] >= since}
        items = fetch_all(
            client, auth_headers("viewer@acme.example"), {"signup_from": since.isoformat()}
        )
        assert {i["id"] for i in items} == expected
        assert expected

    @pytest.mark.parametrize(
        "sort",
        [
            "name",
            "-name",
            "signup",
            "-signup",
            "total_spend",
            "-total_spend",
            "last_purchase",
            "-last_purchase",
        ],
    )
    def test_each_sort_equals_the_independently_sorted_list(
        self, client, auth_headers, acme_ref, sort
    ):
        ref = acme_ref
        keys = {
            "signup": lambda i: (ref.customers[i]["signup_date"], i),
            "total_spend": lambda i: (ref.totals[i].spend, i),
            "last_purchase": lambda i: (ref.totals[i].last, i),
        }
        descending = sort.startswith("-")
        if sort.lstrip("-") == "name":
            ordered = ref.name_order[::-1] if descending else ref.name_order
        else:
            # Every seeded customer has a signup date; the demo's leads (signups who never
            # bought) have no purchase, and come last both ways (by id in the sort's direction).
            key = keys[sort.lstrip("-")]
            known = [i for i in ref.customers if key(i)[0] is not None]
            missing = sorted((i for i in ref.customers if key(i)[0] is None), reverse=descending)
            ordered = sorted(known, key=key, reverse=descending) + missing
        params = {"sort": sort, "skip": 10, "limit": 50}
        body = client.get(CUSTOMERS, params=params, headers=auth_headers("viewer@acme.example"))
        assert [i["id"] for i in body.json()["items"]] == ordered[10:60]

    def test_missing_signup_and_purchase_sort_last_both_ways(self, client, session):
        org = create_org(session)
        a = create_customer(session, org, signup_date=date(2025, 1, 1))
        b = create_customer(session, org, signup_date=None)
        c = create_customer(session, org, signup_date=date(2024, 5, 5))
        d = create_customer(session, org, signup_date=None)
        create_transaction(session, org, a, occurred_at=datetime(2026, 1, 10, tzinfo=UTC))
        create_transaction(
            session, org, c, amount="30.00", occurred_at=datetime(2026, 3, 1, tzinfo=UTC)
        )
        create_transaction(
            session, org, d, amount="20.00", occurred_at=datetime(2026, 2, 1, tzinfo=UTC)
        )
        headers = headers_for(create_user(session, org, role="viewer"))
        expected = {
            "signup": [c, a, b, d],
            "-signup": [a, c, d, b],
            "last_purchase": [a, d, c, b],
            "-last_purchase": [c, d, a, b],
            "total_spend": [b, a, d, c],
            "-total_spend": [c, d, a, b],
        }
        for sort, customers in expected.items():
            body = client.get(CUSTOMERS, params={"sort": sort}, headers=headers).json()
            assert [i["id"] for i in body["items"]] == [x.id for x in customers], sort

    def test_totals_of_every_customer_equal_independent_sums(self, client, auth_headers, acme_ref):
        items = fetch_all(client, auth_headers("viewer@acme.example"))
        assert len(items) == len(acme_ref.customers)
        for item in items:
            expected = acme_ref.totals[item["id"]]
            assert item["total_spend"] == money(expected.spend), item
            assert item["transaction_count"] == expected.count, item
            assert timestamp(item["first_purchase"]) == expected.first, item
            assert timestamp(item["last_purchase"]) == expected.last, item
        assert sum(Decimal(i["total_spend"]) for i in items) == sum(
            t.spend for t in acme_ref.totals.values()
        )

    def test_totals_of_a_sample_equal_sql_sums(self, client, engine, auth_headers, acme_ref):
        sample = sorted(acme_ref.customers)[::250]
        with engine.connect() as conn:
            sums = {
                r.customer_id: r
                for r in conn.execute(
                    text("""
                        SELECT customer_id, sum(amount) AS spend,
                               count(*) FILTER (WHERE kind = 'purchase') AS purchases
                        FROM transactions
                        WHERE customer_id = ANY(:ids) AND currency = 'USD'
                        GROUP BY customer_id
                        """),
                    {"ids": sample},
                )
            }
        headers = auth_headers("viewer@acme.example")
        for customer_id in sample:
            external_id = acme_ref.customers[customer_id]["external_id"]
            body = client.get(CUSTOMERS, params={"q": external_id}, headers=headers).json()
            item = next(i for i in body["items"] if i["id"] == customer_id)
            # A demo lead (a signup who never bought) has no transactions: 0.00 and 0.
            row = sums.get(customer_id)
            assert item["total_spend"] == money(row.spend if row else Decimal("0"))
            assert item["transaction_count"] == (row.purchases if row else 0)

    def test_refunds_subtract_and_other_currencies_are_left_out(
        self, client, session, demo, auth_headers
    ):
        org = demo.acme
        customer = create_customer(session, org, external_id="REFUND-CHECK")
        bought = datetime(2026, 5, 2, 9, 30, tzinfo=UTC)
        create_transaction(session, org, customer, amount="100.00", occurred_at=bought)
        create_transaction(
            session,
            org,
            customer,
            amount="-30.25",
            kind="refund",
            occurred_at=datetime(2026, 5, 20, tzinfo=UTC),
        )
        create_transaction(
            session,
            org,
            customer,
            amount="999.00",
            currency="EUR",
            occurred_at=datetime(2026, 6, 1, tzinfo=UTC),
        )
        headers = auth_headers("viewer@acme.example")
        item = client.get(CUSTOMERS, params={"q": "refund-check"}, headers=headers).json()
        (item,) = item["items"]
        assert item["total_spend"] == "69.75"
        assert item["transaction_count"] == 1
        assert timestamp(item["first_purchase"]) == timestamp(item["last_purchase"]) == bought
        detail = client.get(f"{CUSTOMERS}/{customer.id}", headers=headers).json()
        assert detail["total_spend"] == "69.75"
        assert detail["monthly_spend"] == [
            {"month": "2026-05-01", "total_spend": "69.75", "transaction_count": 1}
        ]
        # The recent list shows every transaction, whatever its currency.
        assert [t["currency"] for t in detail["recent_transactions"]] == ["EUR", "USD", "USD"]

    def test_customer_without_transactions_shows_zero(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme, external_id="NO-TXNS")
        headers = auth_headers("viewer@acme.example")
        (item,) = client.get(CUSTOMERS, params={"q": "no-txns"}, headers=headers).json()["items"]
        assert item["id"] == customer.id
        assert item["total_spend"] == "0.00" and item["transaction_count"] == 0
        assert item["first_purchase"] is None and item["last_purchase"] is None
        detail = client.get(f"{CUSTOMERS}/{customer.id}", headers=headers).json()
        assert detail["total_spend"] == "0.00"
        assert detail["monthly_spend"] == [] and detail["recent_transactions"] == []


def month_after(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


class TestGetCustomer:
    def test_profile_totals_gapless_months_and_recent_transactions(
        self, client, auth_headers, acme_ref
    ):
        # A seeded customer with a refund and a long history.
        customer_id = next(
            i
            for i in sorted(acme_ref.customers)
            if any(t.kind == "refund" for t in acme_ref.transactions[i])
            and len(acme_ref.totals[i].monthly) >= 6
        )
        expected = acme_ref.totals[customer_id]
        response = client.get(
            f"{CUSTOMERS}/{customer_id}", headers=auth_headers("viewer@acme.example")
        )
        assert response.status_code == 200
        body = response.json()
        profile = acme_ref.customers[customer_id]
        assert body["name"] == profile["name"] and body["email"] == profile["email"]
        assert body["external_id"] == profile["external_id"]
        assert body["signup_date"] == profile["signup_date"].isoformat()
        assert body["total_spend"] == money(expected.spend)
        assert body["transaction_count"] == expected.count
        assert timestamp(body["first_purchase"]) == expected.first
        assert timestamp(body["last_purchase"]) == expected.last

        months = [date.fromisoformat(m["month"]) for m in body["monthly_spend"]]
        assert months[0] == min(expected.monthly) and months[-1] == max(expected.monthly)
        assert all(month_after(a) == b for a, b in zip(months, months[1:])), "gapless"
        for m in body["monthly_spend"]:
            spend, count = expected.monthly.get(date.fromisoformat(m["month"]), (Decimal(0), 0))
            assert m["total_spend"] == money(spend) and m["transaction_count"] == count
        assert sum(Decimal(m["total_spend"]) for m in body["monthly_spend"]) == expected.spend
        assert sum(m["transaction_count"] for m in body["monthly_spend"]) == expected.count

        newest = sorted(
            acme_ref.transactions[customer_id],
            key=lambda t: (t.occurred_at, t.id),
            reverse=True,
        )[:10]
        recent = body["recent_transactions"]
        assert [t["id"] for t in recent] == [t.id for t in newest]
        assert all(t["customer_id"] == customer_id for t in recent)
        assert recent[0]["customer_name"] == profile["name"]
        assert {"merchant", "amount", "currency", "kind", "occurred_at"} <= set(recent[0])

    def test_months_without_spending_are_zero(self, client, session, demo, auth_headers):
        org = demo.acme
        customer = create_customer(session, org)
        for day, amount in ((date(2025, 11, 30), "12.00"), (date(2026, 2, 1), "8.50")):
            at = datetime(day.year, day.month, day.day, 23, 59, tzinfo=UTC)
            create_transaction(session, org, customer, amount=amount, occurred_at=at)
        body = client.get(
            f"{CUSTOMERS}/{customer.id}", headers=auth_headers("viewer@acme.example")
        ).json()
        assert body["monthly_spend"] == [
            {"month": "2025-11-01", "total_spend": "12.00", "transaction_count": 1},
            {"month": "2025-12-01", "total_spend": "0.00", "transaction_count": 0},
            {"month": "2026-01-01", "total_spend": "0.00", "transaction_count": 0},
            {"month": "2026-02-01", "total_spend": "8.50", "transaction_count": 1},
        ]
        assert [t["amount"] for t in body["recent_transactions"]] == ["8.50", "12.00"]

    def test_missing_customer_is_404(self, client, auth_headers):
        response = client.get(f"{CUSTOMERS}/999999999", headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": "Customer not found"}


class TestWriteCustomers:
    BODY = {
        "external_id": "NEW-CUST-1",
        "name": "  Nora Field ",
        "email": "nora.field@example.com",
        "country": "GB",
        "signup_date": "2026-04-01",
        "lifecycle_stage": "prospect",
    }

    def test_analyst_creates_reads_updates_and_deletes(self, client, auth_headers):
        headers = auth_headers("analyst@acme.example")
        created = client.post(CUSTOMERS, json=self.BODY, headers=headers)
        assert created.status_code == 201, created.text
        customer = created.json()
        assert customer["name"] == "Nora Field"
        assert customer["lifecycle_stage"] == "prospect" and customer["country"] == "GB"
        assert customer["total_spend"] == "0.00" and customer["transaction_count"] == 0

        fetched = client.get(
            f"{CUSTOMERS}/{customer['id']}", headers=auth_headers("viewer@acme.example")
        )
        assert fetched.status_code == 200
        assert {k: fetched.json()[k] for k in customer} == customer

        updated = client.patch(
            f"{CUSTOMERS}/{customer['id']}",
            json={"lifecycle_stage": "customer", "country": "IE", "email": None},
            headers=headers,
        )
        assert updated.status_code == 200, updated.text
        assert updated.json()["lifecycle_stage"] == "customer"
        assert updated.json()["country"] == "IE" and updated.json()["email"] is None
        assert updated.json()["name"] == "Nora Field"

        deleted = client.delete(f"{CUSTOMERS}/{customer['id']}", headers=headers)
        assert deleted.status_code == 200
        assert deleted.json() == {"deleted_customer": customer["id"], "deleted_transactions": 0}
        assert client.get(f"{CUSTOMERS}/{customer['id']}", headers=headers).status_code == 404

    def test_minimal_body_defaults_to_customer_stage(self, client, auth_headers):
        response = client.post(
            CUSTOMERS, json={"name": "Solo"}, headers=auth_headers("admin@acme.example")
        )
        assert response.status_code == 201
        body = response.json()
        assert body["lifecycle_stage"] == "customer"
        assert body["external_id"] is None and body["email"] is None and body["country"] is None

    def test_viewer_gets_403_on_each_write(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme, name="Untouched")
        headers = auth_headers("viewer@acme.example")
        assert client.post(CUSTOMERS, json=self.BODY, headers=headers).status_code == 403
        url = f"{CUSTOMERS}/{customer.id}"
        assert client.patch(url, json={"name": "Changed"}, headers=headers).status_code == 403
        assert client.delete(url, headers=headers).status_code == 403
        forbidden = client.delete(url, params={"cascade": "true"}, headers=headers)
        assert forbidden.status_code == 403 and forbidden.json()["error"] == "Forbidden"
        assert client.get(url, headers=headers).json()["name"] == "Untouched"

    def test_duplicate_external_id_gets_409(self, client, session, demo, auth_headers):
        existing = create_customer(session, demo.acme, external_id="TAKEN-1")
        other = create_customer(session, demo.acme, external_id="FREE-1")
        headers = auth_headers("analyst@acme.example")
        again = client.post(
            CUSTOMERS, json={"name": "X", "external_id": "TAKEN-1"}, headers=headers
        )
        assert again.status_code == 409 and again.json()["error"] == "Conflict"
        clash = client.patch(
            f"{CUSTOMERS}/{other.id}", json={"external_id": "TAKEN-1"}, headers=headers
        )
        assert clash.status_code == 409
        # Keeping one's own external id, or clearing it, is no conflict.
        same = client.patch(
            f"{CUSTOMERS}/{existing.id}", json={"external_id": "TAKEN-1"}, headers=headers
        )
        assert same.status_code == 200
        cleared = client.patch(
            f"{CUSTOMERS}/{other.id}", json={"external_id": None}, headers=headers
        )
        assert cleared.status_code == 200 and cleared.json()["external_id"] is None

    def test_external_ids_are_unique_per_org_only(self, client, session, demo, auth_headers):
        create_customer(session, demo.globex, external_id="SHARED-1")
        response = client.post(
            CUSTOMERS,
            json={"name": "Acme side", "external_id": "SHARED-1"},
            headers=auth_headers("analyst@acme.example"),
        )
        assert response.status_code == 201

    @pytest.mark.parametrize("change", [{"name": None}, {"lifecycle_stage": None}, {"name": " "}])
    def test_update_cannot_null_name_or_stage(self, client, session, demo, auth_headers, change):
        customer = create_customer(session, demo.acme)
        response = client.patch(
            f"{CUSTOMERS}/{customer.id}", json=change, headers=auth_headers("analyst@acme.example")
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationError"

    @pytest.mark.parametrize(
        "change",
        [
            {"name": ""},
            {"name": "x" * 201},
            {"email": "not-an-email"},
            {"country": "usa"},
            {"country": "us"},
            {"lifecycle_stage": "vip"},
            {"signup_date": "2026-02-30"},
            {"external_id": "x" * 101},
            {"unknown_field": 1},
        ],
    )
    def test_invalid_body_gets_422(self, client, auth_headers, change):
        body = {**self.BODY, **change}
        response = client.post(CUSTOMERS, json=body, headers=auth_headers("admin@acme.example"))
        assert response.status_code == 422, response.text
        detail = response.json()
        assert detail["error"] == "ValidationError" and detail["detail"][0]["msg"]
        patch = client.patch(
            f"{CUSTOMERS}/999999999", json=change, headers=auth_headers("admin@acme.example")
        )
        assert patch.status_code == 422


def stored_counts(session, customer_id: int) -> tuple[int, int]:
    """(customers, transactions) rows for `customer_id`, read with plain SQL."""
    return session.execute(
        text("""
            SELECT (SELECT count(*) FROM customers WHERE id = :id),
                   (SELECT count(*) FROM transactions WHERE customer_id = :id)
            """),
        {"id": customer_id},
    ).one()


class TestDeleteCustomer:
    def test_with_transactions_needs_cascade_and_deletes_nothing(
        self, client, session, auth_headers, acme_ref
    ):
        customer_id = sorted(acme_ref.customers)[7]
        n = len(acme_ref.transactions[customer_id])
        headers = auth_headers("analyst@acme.example")
        response = client.delete(f"{CUSTOMERS}/{customer_id}", headers=headers)
        assert response.status_code == 409
        assert response.json() == {
            "error": "Conflict",
            "detail": f"Customer has {n} transactions; repeat with cascade=true to delete them too",
        }
        assert stored_counts(session, customer_id) == (1, n)
        explicit = client.delete(
            f"{CUSTOMERS}/{customer_id}", params={"cascade": "false"}, headers=headers
        )
        assert explicit.status_code == 409
        assert stored_counts(session, customer_id) == (1, n)

    def test_with_cascade_deletes_customer_and_transactions(
        self, client, session, auth_headers, acme_ref
    ):
        customer_id = sorted(acme_ref.customers)[8]
        n = len(acme_ref.transactions[customer_id])
        headers = auth_headers("analyst@acme.example")
        response = client.delete(
            f"{CUSTOMERS}/{customer_id}", params={"cascade": "true"}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"deleted_customer": customer_id, "deleted_transactions": n}
        assert stored_counts(session, customer_id) == (0, 0)
        assert client.get(f"{CUSTOMERS}/{customer_id}", headers=headers).status_code == 404
        listing = client.get(
            "/api/v1/transactions", params={"customer_id": customer_id}, headers=headers
        )
        assert listing.json()["total"] == 0

    def test_one_transaction_is_named_in_the_singular(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme)
        create_transaction(session, demo.acme, customer)
        response = client.delete(
            f"{CUSTOMERS}/{customer.id}", headers=auth_headers("analyst@acme.example")
        )
        assert response.status_code == 409
        assert response.json()["detail"] == (
            "Customer has 1 transaction; repeat with cascade=true to delete it too"
        )

    def test_without_transactions_cascade_is_not_needed(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme)
        response = client.delete(
            f"{CUSTOMERS}/{customer.id}",
            params={"cascade": "true"},
            headers=auth_headers("admin@acme.example"),
        )
        assert response.json() == {"deleted_customer": customer.id, "deleted_transactions": 0}
        assert stored_counts(session, customer.id) == (0, 0)


class TestTenancy:
    def test_globex_analyst_gets_404_for_an_acme_customer(
        self, client, session, auth_headers, acme_ref
    ):
        acme_id = sorted(acme_ref.customers)[0]
        n = len(acme_ref.transactions[acme_id])
        headers = auth_headers("analyst@globex.example")
        missing = client.get(f"{CUSTOMERS}/999999999", headers=headers)
        url = f"{CUSTOMERS}/{acme_id}"
        responses = [
            client.get(url, headers=headers),
            client.patch(url, json={"name": "Hijacked"}, headers=headers),
            client.delete(url, headers=headers),
            client.delete(url, params={"cascade": "true"}, headers=headers),
        ]
        for response in responses:
            assert response.status_code == 404
            assert response.json() == missing.json()
        assert stored_counts(session, acme_id) == (1, n)
        still = client.get(url, headers=auth_headers("viewer@acme.example")).json()
        assert still["name"] == acme_ref.customers[acme_id]["name"]

    def test_globex_lists_never_show_acme_customers(
        self, client, auth_headers, acme_ref, globex_ref
    ):
        headers = auth_headers("analyst@globex.example")
        items = fetch_all(client, headers)
        assert {i["id"] for i in items} == set(globex_ref.customers)
        assert not {i["id"] for i in items} & set(acme_ref.customers)
        # Totals are in Globex's own currency and from its own transactions.
        for item in items[::20]:
            assert item["total_spend"] == money(globex_ref.totals[item["id"]].spend)
        acme_email = acme_ref.customers[sorted(acme_ref.customers)[0]]["email"]
        assert client.get(CUSTOMERS, params={"q": acme_email}, headers=headers).json()["total"] == 0
        for sort in ("-total_spend", "-last_purchase"):
            page = client.get(CUSTOMERS, params={"sort": sort, "limit": 100}, headers=headers)
            assert {i["id"] for i in page.json()["items"]} <= set(globex_ref.customers)


class TestBadInput:
    @pytest.mark.parametrize(
        "params",
        [
            {"limit": 1000},
            {"limit": 0},
            {"skip": -1},
            {"sort": "price"},
            {"sort": "spend"},
            {"country": "usa"},
            {"country": ["US", "u5"]},
            {"signup_from": "2026-03-01", "signup_to": "2026-02-01"},
            {"signup_from": "2026-13-45"},
            {"signup_to": "yesterday"},
            {"lifecycle_stage": "vip"},
            {"q": ""},
            {"q": "x" * 201},
        ],
    )
    def test_bad_query_gets_422_json(self, client, auth_headers, params):
        response = client.get(CUSTOMERS, params=params, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "ValidationError"
        assert isinstance(body["detail"], list) and body["detail"][0]["msg"]

    def test_bad_ids_and_cascade_get_422(self, client, auth_headers):
        headers = auth_headers("analyst@acme.example")
        assert client.get(f"{CUSTOMERS}/abc", headers=headers).status_code == 422
        response = client.delete(f"{CUSTOMERS}/1", params={"cascade": "maybe"}, headers=headers)
        assert response.status_code == 422
        assert response.json()["error"] == "ValidationError"
