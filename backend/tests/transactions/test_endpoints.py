"""Transactions API: filters equal an independent computation on the seeded data, tenancy holds,
writes follow roles, and bad input gets a 422 JSON error."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import insert, text

from spendlens.models import Transaction

from tests.builders import create_customer, create_merchant, create_org, create_transaction

TXNS = "/api/v1/transactions"


@pytest.fixture(scope="module")
def acme_rows(engine):
    """Every Acme transaction, read with plain SQL: the reference for filter tests."""
    with engine.connect() as conn:
        rows = conn.execute(text("""
                SELECT t.id, t.customer_id, t.occurred_at, t.amount, t.category,
                       t.description, m.name AS merchant
                FROM transactions t
                JOIN organizations o ON o.id = t.org_id AND o.slug = 'acme-retail'
                LEFT JOIN merchants m ON m.org_id = t.org_id AND m.id = t.merchant_id
                """)).mappings()
        return [dict(r) for r in rows]


def fetch_all(client, headers, params):
    """Every item of a filtered listing, following pagination."""
    items, skip = [], 0
    while True:
        page = client.get(TXNS, params={**params, "skip": skip, "limit": 100}, headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        items.extend(body["items"])
        skip += 100
        if skip >= body["total"]:
            return items, body["total"]


def in_period(row, start: date | None, end: date | None) -> bool:
    day = row["occurred_at"].astimezone(UTC).date()
    return (start is None or day >= start) and (end is None or day <= end)


class TestListTransactions:
    def test_default_page_is_newest_first_with_total(self, client, auth_headers, acme_rows):
        response = client.get(TXNS, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 200
        body = response.json()
        assert body["total"] == len(acme_rows)
        assert body["skip"] == 0 and body["limit"] == 20 and len(body["items"]) == 20
        newest = sorted(acme_rows, key=lambda r: (r["occurred_at"], r["id"]), reverse=True)[:20]
        assert [i["id"] for i in body["items"]] == [r["id"] for r in newest]
        first = body["items"][0]
        assert set(first) >= {
            "id",
            "customer_id",
            "customer_name",
            "merchant",
            "occurred_at",
            "amount",
            "currency",
            "category",
            "kind",
        }
        assert isinstance(first["amount"], str) and first["amount"] == f"{newest[0]['amount']:.2f}"

    def test_date_range_matches_independent_count(self, client, auth_headers, acme_rows, demo):
        start, end = demo.as_of - timedelta(days=89), demo.as_of - timedelta(days=60)
        expected = [r for r in acme_rows if in_period(r, start, end)]
        params = {"start_date": start.isoformat(), "end_date": end.isoformat(), "limit": 1}
        body = client.get(TXNS, params=params, headers=auth_headers("analyst@acme.example")).json()
        assert body["total"] == len(expected) > 0

    def test_categories_merchant_and_amounts_combine(self, client, auth_headers, acme_rows, demo):
        start = demo.as_of - timedelta(days=179)
        categories = sorted({r["category"] for r in acme_rows})[:2]
        expected = [
            r
            for r in acme_rows
            if in_period(r, start, demo.as_of)
            and r["category"] in categories
            and Decimal("20") <= r["amount"] <= Decimal("150.50")
        ]
        params = {
            "start_date": start.isoformat(),
            "end_date": demo.as_of.isoformat(),
            "category": categories,
            "min_amount": "20",
            "max_amount": "150.50",
        }
        items, total = fetch_all(client, auth_headers("analyst@acme.example"), params)
        assert total == len(expected) > 0
        assert {i["id"] for i in items} == {r["id"] for r in expected}

    def test_merchant_filter_is_case_insensitive(self, client, auth_headers, acme_rows):
        merchant = next(r["merchant"] for r in acme_rows if r["merchant"])
        params = {"merchant": merchant.upper(), "start_date": "2026-01-01"}
        items, total = fetch_all(client, auth_headers("analyst@acme.example"), params)
        expected = {
            r["id"]
            for r in acme_rows
            if r["merchant"] == merchant and in_period(r, date(2026, 1, 1), None)
        }
        assert {i["id"] for i in items} == expected
        assert all(i["merchant"] == merchant for i in items)

    def test_customer_filter(self, client, auth_headers, acme_rows):
        customer_id = acme_rows[0]["customer_id"]
        expected = {r["id"] for r in acme_rows if r["customer_id"] == customer_id}
        items, total = fetch_all(
            client, auth_headers("analyst@acme.example"), {"customer_id": customer_id}
        )
        assert {i["id"] for i in items} == expected

    def test_text_search_is_case_insensitive_over_description_category_merchant(
        self, client, auth_headers, acme_rows
    ):
        needle = "refund"
        expected = {
            r["id"]
            for r in acme_rows
            if needle in r["description"].lower()
            or needle in r["category"].lower()
            or (r["merchant"] and needle in r["merchant"].lower())
        }
        items, total = fetch_all(client, auth_headers("analyst@acme.example"), {"q": "REFUND"})
        assert total == len(expected) > 0
        assert {i["id"] for i in items} == expected

    def test_like_wildcards_in_search_are_literal(self, client, auth_headers):
        body = client.get(
            TXNS, params={"q": "%_%"}, headers=auth_headers("analyst@acme.example")
        ).json()
        assert body["total"] == 0

    @pytest.mark.parametrize(
        "sort,key,reverse",
        [
            ("amount", lambda r: (r["amount"], r["id"]), False),
            ("-amount", lambda r: (r["amount"], r["id"]), True),
            ("date", lambda r: (r["occurred_at"], r["id"]), False),
        ],
    )
    def test_sorting(self, client, auth_headers, acme_rows, sort, key, reverse):
        params = {"sort": sort, "limit": 50, "skip": 10}
        body = client.get(TXNS, params=params, headers=auth_headers("viewer@acme.example")).json()
        expected = sorted(acme_rows, key=key, reverse=reverse)[10:60]
        assert [i["id"] for i in body["items"]] == [r["id"] for r in expected]

    def test_pages_do_not_overlap(self, client, auth_headers):
        headers = auth_headers("viewer@acme.example")
        first = client.get(TXNS, params={"limit": 30}, headers=headers).json()["items"]
        second = client.get(TXNS, params={"limit": 30, "skip": 30}, headers=headers).json()
        assert not {i["id"] for i in first} & {i["id"] for i in second["items"]}

    @pytest.mark.parametrize(
        "params",
        [
            {"start_date": "2026-03-01", "end_date": "2026-02-01"},
            {"limit": 1000},
            {"limit": 0},
            {"start_date": "2026-13-45"},
            {"end_date": "yesterday"},
            {"skip": -1},
            {"sort": "price"},
            {"min_amount": "abc"},
            {"min_amount": "10", "max_amount": "5"},
            {"min_amount": "1.234"},
            {"customer_id": "x"},
            {"end_date": "9999-12-31"},
        ],
    )
    def test_bad_input_gets_422_json(self, client, auth_headers, params):
        response = client.get(TXNS, params=params, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 422
        body = response.json()
        assert body["error"] == "ValidationError"
        assert isinstance(body["detail"], list) and body["detail"][0]["msg"]


class TestTenancy:
    def test_globex_analyst_never_sees_acme_rows(self, client, auth_headers, acme_rows, demo):
        headers = auth_headers("analyst@globex.example")
        body = client.get(TXNS, params={"limit": 100}, headers=headers).json()
        acme_ids = {r["id"] for r in acme_rows}
        assert body["total"] > 0
        assert not acme_ids & {i["id"] for i in body["items"]}
        assert all(i["currency"] == demo.globex.base_currency for i in body["items"])
        # Filtering by an Acme customer from Globex finds nothing.
        other = client.get(
            TXNS, params={"customer_id": acme_rows[0]["customer_id"]}, headers=headers
        ).json()
        assert other["total"] == 0

    def test_other_orgs_transaction_is_404_like_a_missing_one(
        self, client, auth_headers, acme_rows
    ):
        headers = auth_headers("analyst@globex.example")
        acme_id = acme_rows[0]["id"]
        foreign = client.get(f"{TXNS}/{acme_id}", headers=headers)
        missing = client.get(f"{TXNS}/999999999", headers=headers)
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json()
        assert client.patch(f"{TXNS}/{acme_id}", json={}, headers=headers).status_code == 404
        assert client.delete(f"{TXNS}/{acme_id}", headers=headers).status_code == 404
        still_there = client.get(f"{TXNS}/{acme_id}", headers=auth_headers("viewer@acme.example"))
        assert still_there.status_code == 200

    def test_cannot_attach_transaction_to_other_orgs_customer(
        self, client, session, auth_headers, demo
    ):
        globex_customer = create_customer(session, demo.globex)
        body = {
            "customer_id": globex_customer.id,
            "occurred_at": "2026-05-01T10:00:00Z",
            "amount": "12.00",
            "category": "Groceries",
        }
        response = client.post(TXNS, json=body, headers=auth_headers("analyst@acme.example"))
        assert response.status_code == 422
        assert response.json()["detail"][0]["msg"] == "No such customer"


class TestWriteTransactions:
    def _body(self, customer_id, **overrides):
        body = {
            "customer_id": customer_id,
            "occurred_at": "2026-05-01T10:30:00+02:00",
            "amount": "19.99",
            "category": "Books & Media",
            "description": "A paperback",
            "quantity": 2,
            "external_id": "EXT-NEW-1",
        }
        body.update(overrides)
        return body

    def test_analyst_creates_reads_updates_and_deletes(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme)
        merchant = create_merchant(session, demo.acme, name="Corner Books")
        headers = auth_headers("analyst@acme.example")
        created = client.post(
            TXNS, json=self._body(customer.id, merchant_id=merchant.id), headers=headers
        )
        assert created.status_code == 201, created.text
        txn = created.json()
        assert txn["amount"] == "19.99"
        assert txn["currency"] == "USD"  # the organisation's currency by default
        assert txn["merchant"] == "Corner Books"
        assert txn["occurred_at"].startswith("2026-05-01T08:30:00")  # stored in UTC

        fetched = client.get(f"{TXNS}/{txn['id']}", headers=auth_headers("viewer@acme.example"))
        assert fetched.json() == txn

        updated = client.patch(
            f"{TXNS}/{txn['id']}", json={"amount": "25.10", "category": "Gifts"}, headers=headers
        )
        assert updated.status_code == 200
        assert updated.json()["amount"] == "25.10" and updated.json()["category"] == "Gifts"

        assert client.delete(f"{TXNS}/{txn['id']}", headers=headers).status_code == 204
        assert client.get(f"{TXNS}/{txn['id']}", headers=headers).status_code == 404

    def test_viewer_cannot_write(self, client, session, demo, auth_headers, acme_rows):
        customer = create_customer(session, demo.acme)
        headers = auth_headers("viewer@acme.example")
        assert client.post(TXNS, json=self._body(customer.id), headers=headers).status_code == 403
        existing = acme_rows[0]["id"]
        patch = client.patch(f"{TXNS}/{existing}", json={"amount": "1.00"}, headers=headers)
        assert patch.status_code == 403
        assert client.delete(f"{TXNS}/{existing}", headers=headers).status_code == 403

    def test_duplicate_external_id_gets_409(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme)
        headers = auth_headers("analyst@acme.example")
        assert client.post(TXNS, json=self._body(customer.id), headers=headers).status_code == 201
        again = client.post(TXNS, json=self._body(customer.id), headers=headers)
        assert again.status_code == 409
        assert again.json()["error"] == "Conflict"

    @pytest.mark.parametrize(
        "change",
        [
            {"amount": "-5.00"},
            {"amount": "1.234"},
            {"amount": "abc"},
            {"kind": "refund", "amount": "5.00"},
            {"occurred_at": "2026-05-01T10:30:00"},
            {"occurred_at": "not-a-date"},
            {"currency": "usd"},
            {"quantity": 0},
            {"category": ""},
            {"unknown_field": 1},
        ],
    )
    def test_invalid_body_gets_422(self, client, session, demo, auth_headers, change):
        customer = create_customer(session, demo.acme)
        response = client.post(
            TXNS, json=self._body(customer.id, **change), headers=auth_headers("admin@acme.example")
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationError"

    def test_refund_is_negative(self, client, session, demo, auth_headers):
        customer = create_customer(session, demo.acme)
        response = client.post(
            TXNS,
            json=self._body(customer.id, kind="refund", amount="-19.99", external_id=None),
            headers=auth_headers("analyst@acme.example"),
        )
        assert response.status_code == 201
        assert response.json()["amount"] == "-19.99"

    def test_update_cannot_break_sign_or_null_required_fields(
        self, client, session, demo, auth_headers
    ):
        org = demo.acme
        txn = create_transaction(session, org, create_customer(session, org))
        headers = auth_headers("analyst@acme.example")
        for change in ({"amount": "-1.00"}, {"kind": "refund"}, {"category": None}):
            response = client.patch(f"{TXNS}/{txn.id}", json=change, headers=headers)
            assert response.status_code == 422, (change, response.text)


class TestMoney:
    def test_sums_of_many_cents_are_exact(self, client, session, auth_headers):
        """0.10 + 0.20 a thousand times is exactly 300.00 (no float drift)."""
        from tests.builders import create_user, headers_for

        org = create_org(session)
        customer = create_customer(session, org)
        start = datetime(2026, 3, 1, tzinfo=UTC)
        rows = [
            {
                "org_id": org.id,
                "customer_id": customer.id,
                "occurred_at": start + timedelta(minutes=i),
                "amount": Decimal(cents),
                "currency": "USD",
                "category": "Groceries",
                "description": "",
                "quantity": 1,
                "kind": "purchase",
            }
            for i in range(1000)
            for cents in ("0.10", "0.20")
        ]
        session.execute(insert(Transaction), rows)
        headers = headers_for(create_user(session, org, role="viewer"))
        total = client.get(
            "/api/v1/metrics",
            params={"start_date": "2026-03-01", "end_date": "2026-03-31"},
            headers=headers,
        ).json()["total_spend"]
        assert total == "300.00"
        listing = client.get(TXNS, params={"sort": "amount", "limit": 1}, headers=headers)
        assert listing.json()["items"][0]["amount"] == "0.10"


class TestExportCsv:
    EXPORT = f"{TXNS}/export.csv"

    def test_export_matches_the_filtered_listing(self, client, auth_headers, demo):
        import csv
        import io

        headers = auth_headers("viewer@acme.example")
        params = {"start_date": "2026-06-01", "end_date": "2026-06-30", "category": "Travel"}
        response = client.get(self.EXPORT, params=params, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        listing = client.get(TXNS, params={**params, "limit": 100}, headers=headers).json()
        assert len(rows) == listing["total"] > 0
        assert [int(r["id"]) for r in rows[:100]] == [i["id"] for i in listing["items"]]
        assert rows[0]["amount"] == listing["items"][0]["amount"]
        assert all(r["category"] == "Travel" for r in rows)

    def test_formula_cells_are_neutralised_but_negative_amounts_stay_numbers(
        self, client, session, auth_headers
    ):
        import csv
        import io

        from tests.builders import create_user, headers_for

        org = create_org(session)
        customer = create_customer(session, org, name='=HYPERLINK("http://x")')
        merchant = create_merchant(session, org, name="@SUM(A1)")
        create_transaction(
            session, org, customer, merchant, description="+cmd|' /C calc'!A0", category="-x"
        )
        create_transaction(
            session, org, customer, merchant, kind="refund", amount="-4.50", description="ok"
        )
        response = client.get(self.EXPORT, headers=headers_for(create_user(session, org)))
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 2
        first = next(r for r in rows if r["description"] != "ok")
        assert first["customer_name"] == '\'=HYPERLINK("http://x")'
        assert first["merchant"] == "'@SUM(A1)"
        assert first["description"].startswith("'+cmd")
        assert first["category"] == "'-x"
        refund = next(r for r in rows if r["description"] == "ok")
        assert refund["amount"] == "-4.50"

    def test_export_is_scoped_to_the_callers_org(self, client, auth_headers):
        response = client.get(self.EXPORT, headers=auth_headers("analyst@globex.example"))
        assert response.status_code == 200
        assert set(response.text.splitlines()[1].split(",")[-2:-1]) == {"EUR"}
        assert "USD" not in response.text

    def test_export_needs_token_and_valid_filters(self, client, auth_headers):
        assert client.get(self.EXPORT).status_code == 401
        bad = client.get(
            self.EXPORT,
            params={"start_date": "2026-02-01", "end_date": "2026-01-01"},
            headers=auth_headers("viewer@acme.example"),
        )
        assert bad.status_code == 422
