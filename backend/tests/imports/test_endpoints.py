"""Imports API: each format's quirks land as the right rows, a bad row stops everything by default
and is reported precisely, re-imports add nothing, dry runs write nothing, and files that are not
what they claim are refused before any job starts."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from spendlens.auth.dependencies import get_settings
from spendlens.models import Customer, Job, Merchant, Transaction

from tests.builders import create_customer, create_org, create_user, headers_for
from tests.imports.helpers import ONLINE_RETAIL_SAMPLE, run_job_here, upload

OR_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


@pytest.fixture
def shop(session):
    """An empty organisation in London (Online Retail's clock) and its analyst."""
    org = create_org(session, base_currency="GBP", timezone="Europe/London")
    return org, headers_for(create_user(session, org, role="analyst"))


def imported(session, org_id):
    return {
        t.external_id: t
        for t in session.execute(select(Transaction).where(Transaction.org_id == org_id)).scalars()
    }


def row_counts(session, org_id):
    def count(model):
        query = select(func.count()).select_from(model).where(model.org_id == org_id)
        return session.execute(query).scalar_one()

    return count(Transaction), count(Customer), count(Merchant)


def import_and_run(client, connection, org, headers, content, **fields):
    response = upload(client, headers, content, **fields)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/api/v1/jobs/{response.json()['id']}"
    run_job_here(connection, org.id, response.json()["id"])
    return client.get(f"/api/v1/jobs/{response.json()['id']}", headers=headers).json()


def online_retail_lines(count: int, *, start: int = 600000) -> list[str]:
    lines = []
    for i in range(count):
        lines.append(
            f"{start + i // 4},{20000 + i % 7},ITEM {i % 50},{1 + i % 5},"
            f"1/{1 + i % 28}/2011 {i % 24}:{i % 60:02d},{1 + i % 9}.25,{13000 + i % 40},France\n"
        )
    return lines


class TestOnlineRetailSample:
    def test_quirks_become_the_right_rows(self, client, session, connection, shop):
        org, headers = shop
        job = import_and_run(
            client,
            connection,
            org,
            headers,
            ONLINE_RETAIL_SAMPLE.read_bytes(),
            format="online-retail",
        )
        assert job["state"] == "succeeded", job
        assert job["processed"] == job["total"] == 511 and job["progress"] == 1.0
        result = job["result"]
        assert (result["rows"], result["valid"], result["skipped"], result["invalid"]) == (
            511,
            466,
            45,
            0,
        )
        assert result["new"] == 466 and result["already_present"] == 0
        assert result["skipped_reasons"] == {
            "no CustomerID": 44,
            "zero amount (price or quantity 0)": 1,
        }
        rows = imported(session, org.id)
        assert len(rows) == 466

        # A return: C invoice, negative quantity → refund with a negative amount.
        refund = rows["C536383:22752:1"]
        assert (refund.kind, refund.amount, refund.quantity) == ("refund", Decimal("-183.60"), 24)
        # A price with three decimals: 1 × 0.065 rounds to 0.07.
        assert rows["536507:16216:1"].amount == Decimal("0.07")
        # M/D/YYYY H:MM in the organisation's time zone (London is on UTC in December).
        assert rows["536366:71053:1"].occurred_at == datetime(2010, 12, 1, 18, 14, tzinfo=UTC)
        # The same product twice on one invoice: two lines, numbered.
        assert rows["536367:23084:1"].quantity == 6 and rows["536367:23084:2"].quantity == 24
        assert rows["536375:POST:1"].category == "Postage"
        assert rows["536444:M:1"].category == "Manual"
        assert rows["536366:71053:1"].category == "Merchandise"
        # Trailing spaces of descriptions are trimmed.
        assert rows["536375:22086:1"].description == "PAPER CHAIN KIT 50'S CHRISTMAS"

        # Lines without CustomerID are reported with their row, not imported.
        skipped = {(s["row"], s["column"]) for s in result["skipped_rows"]}
        assert (19, "CustomerID") in skipped and (29, "CustomerID") in skipped
        assert not any(key.startswith("C536377") for key in rows)
        # The zero-price line (the quoted description) is skipped and says why.
        assert {"row": 510, "column": "UnitPrice", "value": "0"}.items() <= next(
            s for s in result["skipped_rows"] if s["row"] == 510
        ).items()

        customer = session.execute(
            select(Customer).where(Customer.org_id == org.id, Customer.external_id == "12570")
        ).scalar_one()
        assert (customer.name, customer.country) == ("Customer 12570", "DE")
        eire = session.execute(
            select(Customer.country).where(
                Customer.org_id == org.id, Customer.external_id == "12682"
            )
        ).scalar_one()
        assert eire == "IE"
        assert result["customers_created"] == row_counts(session, org.id)[1]

    def test_quoted_description_with_comma_and_quotes(self, client, session, connection, shop):
        org, headers = shop
        content = (
            OR_HEADER + '536506,22139,"RETROSPOT TEA SET, CERAMIC ""11 PC""",1,'
            "2010-12-31 17:15,4.95,12346.0,United Kingdom\n"
        )
        job = import_and_run(client, connection, org, headers, content, format="online-retail")
        assert job["state"] == "succeeded", job
        row = imported(session, org.id)["536506:22139:1"]
        assert row.description == 'RETROSPOT TEA SET, CERAMIC "11 PC"'
        # ISO dates work too; "12346.0" (through a spreadsheet) is customer 12346.
        assert row.occurred_at == datetime(2010, 12, 31, 17, 15, tzinfo=UTC)
        customer = session.get(Customer, (org.id, row.customer_id))
        assert (customer.external_id, customer.country) == ("12346", "GB")

    def test_reimport_adds_nothing(self, client, session, connection, shop):
        org, headers = shop
        content = ONLINE_RETAIL_SAMPLE.read_bytes()
        first = import_and_run(client, connection, org, headers, content, format="online-retail")
        before = row_counts(session, org.id)
        second = import_and_run(client, connection, org, headers, content, format="online-retail")
        assert second["state"] == "succeeded"
        assert (second["result"]["new"], second["result"]["already_present"]) == (0, 466)
        assert second["result"]["customers_created"] == 0
        assert row_counts(session, org.id) == before
        assert first["result"]["new"] == 466

    def test_dry_run_previews_and_writes_nothing(self, client, session, shop):
        org, headers = shop
        before = row_counts(session, org.id)
        response = upload(
            client,
            headers,
            ONLINE_RETAIL_SAMPLE.read_bytes(),
            format="online-retail",
            dry_run=True,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["summary"] == {
            "rows": 511,
            "valid": 466,
            "invalid": 0,
            "skipped": 45,
            "new": 466,
            "already_present": 0,
            "customers_created": 54,
            "merchants_created": 0,
        }
        assert body["would_succeed"] is True and body["errors"] == []
        assert len(body["preview"]) == 20
        first = body["preview"][0]
        assert first["row"] == 1 and first["values"]["external_id"] == "536366:71053:1"
        assert first["values"]["amount"] == "40.68" and first["values"]["kind"] == "purchase"
        assert body["preview"][18]["skipped"]["reason"] == "no CustomerID"
        assert row_counts(session, org.id) == before
        assert session.execute(select(func.count()).select_from(Job)).scalar_one() == 0


class TestBadRows:
    def bad_file(self, rows: int, bad_row: int) -> str:
        lines = online_retail_lines(rows)
        lines[bad_row - 1] = lines[bad_row - 1].replace(",1/", ",13/", 1)  # month 13
        return OR_HEADER + "".join(lines)

    def test_one_bad_row_among_thousands_writes_nothing(self, client, session, connection, shop):
        org, headers = shop
        before = row_counts(session, org.id)
        job = import_and_run(
            client, connection, org, headers, self.bad_file(3000, 1234), format="online-retail"
        )
        assert job["state"] == "failed"
        assert job["error_count"] == 1
        (problem,) = job["errors"]
        assert problem["row"] == 1234 and problem["column"] == "InvoiceDate"
        assert problem["value"].startswith("13/") and problem["value"].endswith("/2011 9:33")
        assert problem["reason"].startswith("not a date")
        assert (
            job["result"]["retryable"] is False and "nothing was imported" in job["result"]["error"]
        )
        assert row_counts(session, org.id) == before

    def test_skip_mode_writes_the_good_rows_and_lists_the_bad_one(
        self, client, session, connection, shop
    ):
        org, headers = shop
        job = import_and_run(
            client,
            connection,
            org,
            headers,
            self.bad_file(3000, 1234),
            format="online-retail",
            mode="skip-bad-rows",
        )
        assert job["state"] == "succeeded"
        assert [p["row"] for p in job["errors"]] == [1234]
        assert job["result"]["new"] == 2999 == row_counts(session, org.id)[0]
        assert "600308:20004:1" not in imported(session, org.id)  # line 1234: i = 1233

    def test_each_kind_of_problem_is_named(self, client, shop):
        org, headers = shop
        content = OR_HEADER + (
            "1,A,x,two,1/1/2011 10:00,1.00,1,France\n"
            "2,A,x,1,1/1/2011 10:00,1;5,1,France\n"
            "3,A,x,1,2/30/2011 10:00,1.00,1,France\n"
            "C4,A,x,3,1/1/2011 10:00,1.00,1,France\n"
            ",A,x,1,1/1/2011 10:00,1.00,1,France\n"
            "6,A,x,1,1/1/2011 25:00,1.00,1,France\n"
        )
        body = upload(client, headers, content, format="online-retail", dry_run=True).json()
        reasons = {(p["row"], p["column"]): p["reason"] for p in body["errors"]}
        assert reasons == {
            (1, "Quantity"): "not a whole number",
            (2, "UnitPrice"): "not a number",
            (
                3,
                "InvoiceDate",
            ): "not a date (M/D/YYYY H:MM or ISO 8601 (YYYY-MM-DD[THH:MM[:SS]][±HH:MM]))",
            (4, "Quantity"): "a cancellation (C invoice) needs a negative quantity",
            (5, "InvoiceNo"): "required",
            (6, "InvoiceDate"): reasons[(3, "InvoiceDate")],
        }
        assert body["would_succeed"] is False


class TestNativeFormats:
    def export(self, client, headers, **params):
        response = client.get("/api/v1/transactions/export.csv", params=params, headers=headers)
        assert response.status_code == 200
        return response.text

    def test_export_imports_into_an_empty_org_and_exports_the_same(
        self, client, session, connection, auth_headers, shop
    ):
        org, headers = shop
        week = {"start_date": "2026-06-01", "end_date": "2026-06-07"}
        exported = self.export(client, auth_headers("analyst@acme.example"), **week)
        job = import_and_run(client, connection, org, headers, exported)
        assert job["state"] == "succeeded", job
        source = list(csv.DictReader(io.StringIO(exported)))
        assert job["result"]["new"] == len(source) > 50
        assert job["result"]["merchants_created"] > 0 and job["result"]["customers_created"] > 0
        again = list(csv.DictReader(io.StringIO(self.export(client, headers, **week))))

        def comparable(rows):
            return sorted(
                ({k: v for k, v in r.items() if k not in ("id", "customer_id")} for r in rows),
                key=lambda r: r["external_id"],
            )

        assert comparable(again) == comparable(source)

    def test_json_list_of_objects(self, client, session, connection, shop):
        org, headers = shop
        records = [
            {
                "occurred_at": "2026-03-01T10:00:00Z",
                "customer_external_id": "J1",
                "customer_name": "Jo",
                "amount": 12.5,
                "category": "Books",
                "merchant": "Page One",
                "external_id": "J-1",
            },
            {
                "occurred_at": "2026-03-02T10:00:00+01:00",
                "customer_external_id": "J1",
                "amount": "-2.50",
                "category": "Books",
                "kind": "refund",
                "external_id": "J-2",
                "note": "ignored",
            },
        ]
        job = import_and_run(
            client, connection, org, headers, json.dumps(records), filename="t.json", format="json"
        )
        assert job["state"] == "succeeded", job
        rows = imported(session, org.id)
        assert rows["J-1"].amount == Decimal("12.50") and rows["J-2"].kind == "refund"
        assert rows["J-2"].occurred_at == datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
        assert rows["J-1"].currency == "GBP"
        customer = session.get(Customer, (org.id, rows["J-1"].customer_id))
        assert customer.name == "Jo"
        assert job["params"]["ignored_columns"] == []

    def test_json_that_is_not_a_list_is_refused(self, client, shop):
        _, headers = shop
        response = upload(client, headers, '"text"', filename="t.json", format="json")
        assert response.status_code == 422

    def test_custom_mapping_with_semicolons_and_decimal_commas(
        self, client, session, connection, shop
    ):
        org, headers = shop
        content = (
            "Kunde;Datum;Menge;Preis;Art;Laden;Ref\n"
            "K1;31.01.2026 14:30;3;2,50;Bücher;Buchladen;R1\n"
            "K2;01.02.2026 09:05;-1;10,00;;Buchladen;R2\n"
        )
        mapping = {
            "customer": "Kunde",
            "date": "Datum",
            "date_format": "%d.%m.%Y %H:%M",
            "quantity": "Menge",
            "price": "Preis",
            "category": "Art",
            "merchant": "Laden",
            "external_id": "Ref",
            "delimiter": ";",
            "decimal_separator": ",",
        }
        job = import_and_run(
            client, connection, org, headers, content, format="custom", mapping=json.dumps(mapping)
        )
        assert job["state"] == "succeeded", job
        rows = imported(session, org.id)
        assert (rows["R1"].amount, rows["R1"].quantity, rows["R1"].category) == (
            Decimal("7.50"),
            3,
            "Bücher",
        )
        assert rows["R1"].occurred_at == datetime(2026, 1, 31, 14, 30, tzinfo=UTC)
        assert (rows["R2"].kind, rows["R2"].amount, rows["R2"].category) == (
            "refund",
            Decimal("-10.00"),
            "Uncategorized",
        )
        assert rows["R1"].merchant_id == rows["R2"].merchant_id is not None

    def test_customer_id_is_used_only_within_the_org(self, client, session, connection, shop):
        org, headers = shop
        mine = create_customer(session, org, external_id=None)
        theirs = create_customer(session, create_org(session))
        content = (
            "occurred_at,customer_id,amount,category,description\n"
            f"2026-01-05,{mine.id},9.99,Books,'=SUM(A1)\n"
            f"2026-01-06,{theirs.id},5.00,Books,x\n"
        )
        body = upload(client, headers, content, dry_run=True).json()
        assert [(p["row"], p["column"], p["reason"]) for p in body["errors"]] == [
            (2, "customer_id", "no such customer in this organisation (give customer_external_id)")
        ]
        job = import_and_run(client, connection, org, headers, content, mode="skip-bad-rows")
        (row,) = imported(session, org.id).values()
        # Our export's formula guard (a leading quote) is taken off again.
        assert (row.customer_id, row.description) == (mine.id, "=SUM(A1)")
        assert job["result"]["new"] == 1 and job["error_count"] == 1
        # Without an external id, a row is matched on its values: importing again adds nothing.
        again = import_and_run(client, connection, org, headers, content, mode="skip-bad-rows")
        assert (again["result"]["new"], again["result"]["already_present"]) == (0, 1)

    def test_json_lines_and_custom_date_patterns(self, client, session, connection, shop):
        org, headers = shop
        lines = (
            '{"occurred_at": "2026-02-01", "customer_external_id": "L1", "amount": "3", '
            '"category": "Tea", "external_id": "L-1"}\n'
            '{"occurred_at": "2026-02-02T08:00:00-05:00", "customer_external_id": "L1", '
            '"amount": 4, "category": "Tea", "external_id": "L-2"}\n'
        )
        job = import_and_run(client, connection, org, headers, lines, format="json")
        assert job["state"] == "succeeded", job
        rows = imported(session, org.id)
        assert rows["L-2"].occurred_at == datetime(2026, 2, 2, 13, 0, tzinfo=UTC)
        mapping = {
            "customer": "who",
            "date": "when",
            "date_format": "%d %b %y %I:%M %p",
            "amount": "total",
            "external_id": "ref",
        }
        content = "who,when,total,ref\nP1,03 Mar 26 07:15 PM,1.5,P-1\nP1,31 Feb 26 07:15 PM,1,P-2\n"
        body = upload(
            client, headers, content, format="custom", mapping=json.dumps(mapping), dry_run=True
        ).json()
        assert body["preview"][0]["values"]["occurred_at"].startswith("2026-03-03T19:15:00")
        assert [(p["row"], p["column"]) for p in body["errors"]] == [(2, "when")]

    def test_customers_file(self, client, session, connection, shop):
        org, headers = shop
        create_customer(session, org, external_id="OLD", name="Kept As Is")
        content = (
            "external_id,name,email,country,signup_date,lifecycle_stage\n"
            "N1,Ada,ADA@example.com,GB,2025-04-01,lead\n"
            "N2,Bo,,Germany,,\n"
            "OLD,Renamed,,,,\n"
        )
        job = import_and_run(client, connection, org, headers, content, kind="customers")
        assert job["state"] == "succeeded", job
        assert (job["result"]["new"], job["result"]["already_present"]) == (2, 1)
        by_id = {
            c.external_id: c
            for c in session.execute(select(Customer).where(Customer.org_id == org.id)).scalars()
        }
        assert (by_id["N1"].email, by_id["N1"].lifecycle_stage) == ("ada@example.com", "lead")
        assert by_id["N1"].signup_date.isoformat() == "2025-04-01"
        assert (by_id["N2"].country, by_id["N2"].lifecycle_stage) == ("DE", "customer")
        assert by_id["OLD"].name == "Kept As Is"

    def test_merchants_file(self, client, session, connection, shop):
        org, headers = shop
        session.add(Merchant(org_id=org.id, name="Old Shop", default_category="Groceries"))
        session.flush()
        content = (
            "name,default_category\n"
            "Corner Café,Groceries\n"
            "'=Formula Mart,\n"  # the CSV export's formula guard comes off again
            '"Bakery ""Le Pain"", Paris",Food & Drink\n'
            "Old Shop,Travel\n"
        )
        job = import_and_run(client, connection, org, headers, content, kind="merchants")
        assert job["state"] == "succeeded", job
        assert (job["result"]["new"], job["result"]["already_present"]) == (3, 1)
        assert job["result"]["merchants_created"] == 3
        merchants = {
            m.name: m.default_category
            for m in session.execute(select(Merchant).where(Merchant.org_id == org.id)).scalars()
        }
        assert merchants == {
            "Corner Café": "Groceries",
            "=Formula Mart": None,
            'Bakery "Le Pain", Paris': "Food & Drink",
            "Old Shop": "Groceries",  # an existing merchant is left as it was
        }
        again = import_and_run(client, connection, org, headers, content, kind="merchants")
        assert (again["result"]["new"], again["result"]["already_present"]) == (0, 4)

    def test_bad_merchant_rows_are_reported_and_nothing_is_written(
        self, client, session, connection, shop
    ):
        org, headers = shop
        content = (
            "name,default_category,note\n"
            "Fine,Books,1\n"
            ",Books,2\n"
            "Fine,Travel,3\n"
            f"Long,{'x' * 101},4\n"
        )
        body = upload(client, headers, content, kind="merchants", dry_run=True).json()
        assert body["summary"]["invalid"] == 3 and body["would_succeed"] is False
        assert body["ignored_columns"] == ["note"]
        assert [(p["row"], p["column"], p["reason"]) for p in body["errors"]] == [
            (2, "name", "required"),
            (3, "name", "duplicate name (also on an earlier row)"),
            (4, "default_category", "longer than 100 characters"),
        ]
        job = import_and_run(client, connection, org, headers, content, kind="merchants")
        assert job["state"] == "failed" and job["error_count"] == 3
        assert row_counts(session, org.id) == (0, 0, 0)

    def test_merchants_come_only_from_the_native_layouts(self, client, shop):
        _, headers = shop
        content = "name,default_category\nA,B\n"
        response = upload(client, headers, content, kind="merchants", format="online-retail")
        assert response.status_code == 422
        assert "native CSV or JSON" in response.json()["detail"][0]["msg"]
        response = upload(client, headers, "shop,category\nA,B\n", kind="merchants")
        assert response.status_code == 422
        assert "missing column(s) name" in response.json()["detail"][0]["msg"]


class TestRefusedUploads:
    def test_viewer_cannot_import(self, client, auth_headers):
        response = upload(
            client,
            auth_headers("viewer@acme.example"),
            ONLINE_RETAIL_SAMPLE.read_bytes(),
            format="online-retail",
        )
        assert response.status_code == 403

    def test_over_the_size_limit_is_413(self, app, client, shop):
        _, headers = shop
        small = get_settings().model_copy(update={"max_upload_bytes": 2000})
        app.dependency_overrides[get_settings] = lambda: small
        response = upload(
            client, headers, ONLINE_RETAIL_SAMPLE.read_bytes(), format="online-retail"
        )
        assert response.status_code == 413
        assert response.json()["error"] == "PayloadTooLarge"

    @pytest.mark.parametrize(
        "content",
        [b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"PK\x03\x04 workbook", b"a,b\n\x00\x01\x02"],
        ids=["png", "xlsx", "nul-bytes"],
    )
    def test_binary_file_is_415(self, client, shop, content):
        _, headers = shop
        response = upload(client, headers, content, format="online-retail")
        assert response.status_code == 415
        assert response.json()["error"] == "UnsupportedMediaType"

    def test_wrong_columns_for_the_format_are_422(self, client, shop):
        _, headers = shop
        response = upload(client, headers, ONLINE_RETAIL_SAMPLE.read_bytes())  # as native CSV
        assert response.status_code == 422
        assert "missing column(s) occurred_at, category, amount" in response.text

    def test_bad_encoding_is_422(self, client, shop):
        _, headers = shop
        content = (OR_HEADER + "1,A,CAFÉ,1,1/1/2011 10:00,1.00,1,France\n").encode("cp1252")
        response = upload(client, headers, content, format="online-retail")
        assert response.status_code == 422
        assert "cp1252" in response.text

    def test_declared_encoding_is_used(self, client, session, connection, shop):
        org, headers = shop
        content = (OR_HEADER + "1,A,CAFÉ £,1,1/1/2011 10:00,1.00,1,France\n").encode("cp1252")
        job = import_and_run(
            client, connection, org, headers, content, format="online-retail", encoding="cp1252"
        )
        assert imported(session, org.id)["1:A:1"].description == "CAFÉ £"
        assert job["state"] == "succeeded"

    def test_a_row_with_too_many_fields_is_422_with_its_line(self, client, shop):
        _, headers = shop
        content = OR_HEADER + "1,A,x,1,1/1/2011 10:00,1.00,1,France\n2,A,x,1,1/1/2011,1,1,FR,X\n"
        response = upload(client, headers, content, format="online-retail")
        assert response.status_code == 422
        assert "Line 3" in response.text

    def test_not_multipart_and_no_file_are_422(self, client, shop):
        _, headers = shop
        assert client.post("/api/v1/imports", json={}, headers=headers).status_code == 422
        response = client.post("/api/v1/imports", data={"format": "json"}, headers=headers)
        assert response.status_code == 422

    def test_custom_without_mapping_and_bad_options_are_422(self, client, shop):
        _, headers = shop
        content = ONLINE_RETAIL_SAMPLE.read_bytes()
        assert upload(client, headers, content, format="custom").status_code == 422
        assert upload(client, headers, content, format="xls").status_code == 422
        bad_mapping = upload(client, headers, content, format="custom", mapping="{nope")
        assert bad_mapping.status_code == 422


class TestTenancy:
    def test_an_analyst_cannot_see_another_orgs_import_job(
        self, client, connection, auth_headers, demo
    ):
        acme = auth_headers("analyst@acme.example")
        response = upload(client, acme, ONLINE_RETAIL_SAMPLE.read_bytes(), format="online-retail")
        job_id = response.json()["id"]
        globex = auth_headers("analyst@globex.example")
        assert client.get(f"/api/v1/jobs/{job_id}", headers=globex).status_code == 404
        assert client.post(f"/api/v1/jobs/{job_id}/retry", headers=globex).status_code == 404
        assert job_id not in [
            j["id"] for j in client.get("/api/v1/jobs", headers=globex).json()["items"]
        ]
        assert client.get(f"/api/v1/jobs/{job_id}", headers=acme).status_code == 200

    def test_an_import_lands_only_in_the_callers_org(
        self, client, session, connection, auth_headers, demo
    ):
        acme_before = row_counts(session, demo.acme.id)
        globex = auth_headers("analyst@globex.example")
        job = import_and_run(
            client, connection, demo.globex, globex, ONLINE_RETAIL_SAMPLE.read_bytes(),
            format="online-retail",
        )  # fmt: skip
        assert job["state"] == "succeeded"
        assert row_counts(session, demo.acme.id) == acme_before
        globex_rows = connection.execute(
            text(
                "SELECT count(*) FROM transactions WHERE org_id = :o AND external_id LIKE '5363%'"
            ),
            {"o": demo.globex.id},
        ).scalar_one()
        assert globex_rows > 0
