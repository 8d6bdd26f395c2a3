"""Exports API: customers CSV and the organisation JSON are org-scoped, need a token, honour the
customers' filters, and round-trip: export → import into an empty organisation (through the real
import job) → export again gives identical files."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from spendlens.models import Customer, Merchant, Transaction

from tests.builders import (
    create_customer,
    create_merchant,
    create_org,
    create_transaction,
    create_user,
    headers_for,
)
from tests.imports.helpers import run_job_here, upload

CUSTOMERS_CSV = "/api/v1/exports/customers.csv"
MERCHANTS_CSV = "/api/v1/exports/merchants.csv"
ORG_JSON = "/api/v1/exports/organization.json"
TRANSACTIONS_CSV = "/api/v1/transactions/export.csv"

# Text that CSV and spreadsheets find awkward: separators, quotes, line breaks, formulas.
AWKWARD = [
    'Smith, "Jo" & Co',
    "line one\nline two",
    '=HYPERLINK("http://evil.example","click")',
    "+44 tea",
    "-minus",
    "@mention",
    "plain",
    "Zoë – ünïcödé",
]


FORMULA_STARTS = "=+-@"


def build_shop(session, name: str = "Round Trip Ltd"):
    """An organisation with a few hundred transactions and the awkward cases an export meets."""
    org = create_org(session, name=name, base_currency="EUR", timezone="Europe/Paris")
    merchants = [
        create_merchant(session, org, name=n, default_category=c)
        for n, c in (
            ("Corner Shop", "Groceries"),
            ('Bakery "Le Pain", Paris', 'Food, "fresh"'),
            ("=cmd|' /C calc'!A0", "+Formula category"),
            ("Kiosk", None),
        )
    ]
    # A merchant no transaction names travels through the merchants list alone.
    create_merchant(session, org, name="Dormant Supplies", default_category="Office")
    stages = ["lead", "prospect", "customer", "churned"]
    customers = []
    for i in range(60):
        customers.append(
            create_customer(
                session,
                org,
                # Some keys and emails look like formulas: the export guards them, the
                # import must take the guard off again.
                external_id=f"{FORMULA_STARTS[i % 4] if i % 7 == 0 else ''}CUST-{i:03d}",
                name=f"{AWKWARD[i % len(AWKWARD)]} {i}",
                email=f"{'=' if i % 10 == 3 else ''}c{i}@shop.example" if i % 5 else None,
                country=["FR", "DE", "GB", "US"][i % 4],
                signup_date=date(2024, 1, 1) + timedelta(days=7 * i) if i % 6 else None,
                lifecycle_stage=stages[i % 4],
            )
        )
    start = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
    for i in range(320):
        customer = customers[i % 50]  # customers 50-59 have no transactions
        refund = i % 9 == 4
        amount = Decimal(f"{(i * 37) % 500 + 1}.{i % 100:02d}")
        create_transaction(
            session,
            org,
            customer,
            merchants[i % len(merchants)] if i % 11 else None,
            occurred_at=start + timedelta(hours=7 * i, seconds=i % 60),
            amount=-amount if refund else amount,
            kind="refund" if refund else "purchase",
            category=["Groceries", "Books", "Travel"][i % 3],
            description=AWKWARD[i % len(AWKWARD)] if i % 4 else "",
            quantity=1 + i % 3,
            currency="EUR",
            external_id=f"{'+' if i % 13 == 0 else ''}TX-{i:05d}",
        )
    return org, headers_for(create_user(session, org, role="analyst"))


def get_text(client, path, headers, **params) -> str:
    response = client.get(path, headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.text


def import_file(client, connection, org, headers, content: str, **fields):
    response = upload(client, headers, content, **fields)
    assert response.status_code == 202, response.text
    run_job_here(connection, org.id, response.json()["id"])
    job = client.get(f"/api/v1/jobs/{response.json()['id']}", headers=headers).json()
    assert job["state"] == "succeeded", job
    assert job["error_count"] == 0, job
    return job


def without_ids(transactions_csv: str) -> list[list[str]]:
    """The transactions export less its database-id columns (ids differ between organisations)."""
    rows = list(csv.reader(io.StringIO(transactions_csv)))
    keep = [i for i, name in enumerate(rows[0]) if name not in ("id", "customer_id")]
    return [[row[i] for i in keep] for row in rows]


def counts(session, org_id):
    def count(model):
        query = select(func.count()).select_from(model).where(model.org_id == org_id)
        return session.execute(query).scalar_one()

    return count(Customer), count(Merchant), count(Transaction)


class TestRoundTrip:
    def test_csv_exports_import_into_an_empty_org_and_export_identically(
        self, client, session, connection
    ):
        source, source_headers = build_shop(session)
        merchants = get_text(client, MERCHANTS_CSV, source_headers)
        customers = get_text(client, CUSTOMERS_CSV, source_headers)
        transactions = get_text(client, TRANSACTIONS_CSV, source_headers)
        organization = get_text(client, ORG_JSON, source_headers)

        copy, copy_headers = build_empty_like(session, source)
        job = import_file(client, connection, copy, copy_headers, merchants, kind="merchants")
        assert job["result"]["new"] == 5
        job = import_file(client, connection, copy, copy_headers, customers, kind="customers")
        assert job["result"]["new"] == 60
        job = import_file(client, connection, copy, copy_headers, transactions)
        assert job["result"]["new"] == 320 and job["result"]["customers_created"] == 0

        assert counts(session, copy.id) == counts(session, source.id) == (60, 5, 320)
        assert get_text(client, MERCHANTS_CSV, copy_headers) == merchants
        assert get_text(client, CUSTOMERS_CSV, copy_headers) == customers
        assert get_text(client, ORG_JSON, copy_headers) == organization
        again = get_text(client, TRANSACTIONS_CSV, copy_headers)
        assert again != transactions  # its id columns are the copy's own …
        assert without_ids(again) == without_ids(transactions)  # … and nothing else differs

    def test_org_json_imports_into_an_empty_org_and_exports_identically(
        self, client, session, connection
    ):
        source, source_headers = build_shop(session)
        exported = get_text(client, ORG_JSON, source_headers)
        document = json.loads(exported)
        assert document["format"] == "spendlens-org-export" and document["version"] == 1
        assert document["organization"] == {
            "name": "Round Trip Ltd",
            "base_currency": "EUR",
            "timezone": "Europe/Paris",
        }

        copy, copy_headers = build_empty_like(session, source)
        # The importer takes the document's lists as JSON imports: merchants, customers, then
        # transactions.
        for kind in ("merchants", "customers", "transactions"):
            content = json.dumps(document[kind], ensure_ascii=False)
            import_file(client, connection, copy, copy_headers, content, kind=kind, format="json")

        assert get_text(client, ORG_JSON, copy_headers) == exported
        assert get_text(client, CUSTOMERS_CSV, copy_headers) == get_text(
            client, CUSTOMERS_CSV, source_headers
        )


def build_empty_like(session, org):
    copy = create_org(
        session, name=org.name, base_currency=org.base_currency, timezone=org.timezone
    )
    return copy, headers_for(create_user(session, copy, role="analyst"))


class TestOrganizationJson:
    def test_layout_references_keys_not_ids(self, client, session):
        org, headers = build_shop(session)
        document = json.loads(get_text(client, ORG_JSON, headers))
        # (Order follows the database's collation; the round-trip tests pin it byte for byte.)
        assert sorted(c["external_id"] for c in document["customers"]) == sorted(
            c.external_id for c in session.query(Customer).filter_by(org_id=org.id)
        )
        assert [m["name"] for m in document["merchants"]] == sorted(
            m["name"] for m in document["merchants"]
        )
        transactions = document["transactions"]
        assert sorted(t["external_id"] for t in transactions) == sorted(
            f"{'+' if i % 13 == 0 else ''}TX-{i:05d}" for i in range(320)
        )
        by_key = {t["external_id"]: t for t in transactions}
        first, refund, merchantless = by_key["TX-00001"], by_key["TX-00004"], by_key["TX-00011"]
        assert set(first) == {
            "external_id",
            "occurred_at",
            "customer_external_id",
            "merchant",
            "category",
            "description",
            "quantity",
            "kind",
            "amount",
            "currency",
        }
        assert first["occurred_at"] == "2025-03-01T16:30:01+00:00"
        assert first["customer_external_id"] == "CUST-001"
        assert (refund["kind"], refund["amount"]) == ("refund", "-149.04")
        assert merchantless["merchant"] is None
        # JSON needs no spreadsheet guard: text is exported as it is.
        assert by_key["TX-00002"]["description"] == AWKWARD[2]
        assert all("id" not in row for row in document["customers"] + document["merchants"])

    def test_viewer_gets_403(self, client, session, demo):
        viewer = create_user(session, demo.acme, role="viewer")
        response = client.get(ORG_JSON, headers=headers_for(viewer))
        assert response.status_code == 403

    @pytest.mark.parametrize("role", ["analyst", "admin"])
    def test_analysts_and_admins_may_export(self, client, session, role):
        org, _ = build_shop(session)
        user = create_user(session, org, role=role)
        assert client.get(ORG_JSON, headers=headers_for(user)).status_code == 200

    def test_anonymous_gets_401(self, client):
        assert client.get(ORG_JSON).status_code == 401

    def test_globex_export_holds_no_acme_rows(self, client, session, auth_headers, demo):
        document = json.loads(get_text(client, ORG_JSON, auth_headers("analyst@globex.example")))
        assert document["organization"]["name"] == demo.globex.name

        def keys(model, column, org_id):
            query = select(column).where(model.org_id == org_id)
            return set(session.execute(query).scalars())

        globex_customers = keys(Customer, Customer.external_id, demo.globex.id)
        assert {c["external_id"] for c in document["customers"]} == globex_customers
        assert len(document["transactions"]) == counts(session, demo.globex.id)[2]
        acme_only = keys(Customer, Customer.external_id, demo.acme.id) - globex_customers
        assert acme_only
        assert not acme_only & {t["customer_external_id"] for t in document["transactions"]}


class TestMerchantsCsv:
    def test_columns_order_and_formula_guard(self, client, session):
        org, headers = build_shop(session)
        rows = list(csv.reader(io.StringIO(get_text(client, MERCHANTS_CSV, headers))))
        assert rows[0] == ["name", "default_category"]
        by_name = {name: category for name, category in rows[1:]}
        assert by_name == {
            "Corner Shop": "Groceries",
            'Bakery "Le Pain", Paris': 'Food, "fresh"',
            "'=cmd|' /C calc'!A0": "'+Formula category",
            "Kiosk": "",
            "Dormant Supplies": "Office",
        }

    def test_org_scoped_and_needs_a_token(self, client, session, auth_headers, demo):
        create_merchant(session, demo.acme, name="Acme Only Outlet", default_category="Books")
        text_ = get_text(client, MERCHANTS_CSV, auth_headers("analyst@globex.example"))
        names = {row[0] for row in list(csv.reader(io.StringIO(text_)))[1:]}
        query = select(Merchant.name).where(Merchant.org_id == demo.globex.id)
        assert names == set(session.execute(query).scalars())
        assert "Acme Only Outlet" not in names
        assert client.get(MERCHANTS_CSV).status_code == 401


class TestCustomersCsv:
    def test_columns_totals_and_formula_guard(self, client, session):
        org, headers = build_shop(session)
        rows = list(csv.DictReader(io.StringIO(get_text(client, CUSTOMERS_CSV, headers))))
        assert len(rows) == 60
        assert list(rows[0]) == [
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
        ]
        by_id = {r["external_id"]: r for r in rows}
        assert by_id["CUST-002"]["name"] == "'" + AWKWARD[2] + " 2"
        assert by_id["CUST-001"]["name"] == "line one\nline two 1"
        idle = by_id["CUST-055"]
        assert (idle["total_spend"], idle["transaction_count"], idle["last_purchase"]) == (
            "0.00",
            "0",
            "",
        )
        spent = session.execute(
            select(func.sum(Transaction.amount)).where(Transaction.org_id == org.id)
        ).scalar_one()
        assert sum(Decimal(r["total_spend"]) for r in rows) == spent

    def test_viewer_may_export(self, client, session, demo):
        viewer = create_user(session, demo.acme, role="viewer")
        assert client.get(CUSTOMERS_CSV, headers=headers_for(viewer)).status_code == 200

    def test_anonymous_gets_401(self, client):
        assert client.get(CUSTOMERS_CSV).status_code == 401

    def test_globex_export_holds_no_acme_rows(self, client, session, auth_headers, demo):
        text = get_text(client, CUSTOMERS_CSV, auth_headers("analyst@globex.example"))
        exported = {r["external_id"] for r in csv.DictReader(io.StringIO(text))}
        query = select(Customer.external_id).where(Customer.org_id == demo.globex.id)
        assert exported == set(session.execute(query).scalars())

    def test_filters_are_the_customer_lists(self, client, session):
        org, headers = build_shop(session)
        params = {"country": ["FR", "GB"], "lifecycle_stage": "lead", "q": "cust-0"}
        text = get_text(client, CUSTOMERS_CSV, headers, **params)
        exported = [r["external_id"] for r in csv.DictReader(io.StringIO(text))]
        listed = client.get(
            "/api/v1/customers", headers=headers, params={**params, "limit": 100}
        ).json()["items"]
        unguarded = [e[1:] if e.startswith("'") else e for e in exported]
        assert sorted(unguarded) == sorted(c["external_id"] for c in listed)
        assert exported and all(int(e[-3:]) % 4 == 0 for e in exported)
        assert "'=CUST-000" in exported  # formula-like keys are guarded in the CSV

    @pytest.mark.parametrize(
        "params",
        [
            {"country": "france"},
            {"signup_from": "2025-02-01", "signup_to": "2025-01-01"},
            {"signup_from": "yesterday"},
            {"lifecycle_stage": "vip"},
        ],
    )
    def test_bad_filters_get_422(self, client, session, auth_headers, params):
        response = client.get(
            CUSTOMERS_CSV, headers=auth_headers("analyst@acme.example"), params=params
        )
        assert response.status_code == 422, response.text


class TestFileNames:
    # UTC+14 and UTC-12 are always on different calendar days, so one server date fits only one.
    @pytest.mark.parametrize("timezone", ["Pacific/Kiritimati", "Etc/GMT+12"])
    def test_every_export_is_named_for_the_organisations_day(self, client, session, timezone):
        org = create_org(session, timezone=timezone)
        headers = headers_for(create_user(session, org, role="analyst"))
        for url, stem in (
            (TRANSACTIONS_CSV, "transactions-"),
            (CUSTOMERS_CSV, "customers-"),
            (MERCHANTS_CSV, "merchants-"),
            (ORG_JSON, "organization-"),
        ):
            before = datetime.now(ZoneInfo(timezone)).date()
            response = client.get(url, headers=headers)
            after = datetime.now(ZoneInfo(timezone)).date()
            assert response.status_code == 200, response.text
            disposition = response.headers["content-disposition"]
            day = disposition.split(stem, 1)[1][:10]
            assert date.fromisoformat(day) in (before, after), disposition
