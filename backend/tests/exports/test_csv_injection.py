"""Formula injection through the CSV exports: a customer name, description or merchant with a
formula after a line break (or a bare CR) comes out quoted and guarded, and a native import of
the export takes the guards off again."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from spendlens.models import Customer

from tests.builders import (
    create_customer,
    create_merchant,
    create_org,
    create_transaction,
    create_user,
    headers_for,
)
from tests.exports.test_endpoints import CUSTOMERS_CSV, TRANSACTIONS_CSV, get_text, import_file

DANGEROUS_PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


def records(text: str) -> list[list[str]]:
    # newline="" so that the reader, not the text layer, decides where records end.
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture
def shop(session):
    org = create_org(session)
    merchant = create_merchant(session, org, name="Bob\r@SUM(A1)")
    for i, prefix in enumerate(DANGEROUS_PREFIXES):
        customer = create_customer(
            session, org, external_id=f"C{i}", name=f"Bob\r{prefix}1+2", email=None
        )
        create_transaction(
            session, org, customer, merchant, description=f"line\n{prefix}cmd", external_id=f"T{i}"
        )
    return org, headers_for(create_user(session, org, role="analyst"))


class TestFormulaAfterLineBreak:
    def test_customers_export_quotes_and_guards_every_prefix(self, client, shop):
        org, headers = shop
        text = get_text(client, CUSTOMERS_CSV, headers)
        rows = records(text)
        assert len(rows) == 1 + len(DANGEROUS_PREFIXES)  # no name split a record
        names = {row[0]: row[1] for row in rows[1:]}
        for i, prefix in enumerate(DANGEROUS_PREFIXES):
            assert names[f"C{i}"] == f"Bob\r'{prefix}1+2"
        assert '"Bob\r\'=1+2"' in text

    def test_transactions_export_quotes_and_guards_every_prefix(self, client, shop):
        org, headers = shop
        rows = records(get_text(client, TRANSACTIONS_CSV, headers))
        assert len(rows) == 1 + len(DANGEROUS_PREFIXES)
        header = rows[0]
        description, merchant = header.index("description"), header.index("merchant")
        assert {row[merchant] for row in rows[1:]} == {"Bob\r'@SUM(A1)"}
        assert sorted(row[description] for row in rows[1:]) == sorted(
            f"line\n'{prefix}cmd" for prefix in DANGEROUS_PREFIXES
        )

    def test_native_import_of_the_export_restores_the_original_names(
        self, client, session, connection, shop
    ):
        org, headers = shop
        exported = get_text(client, CUSTOMERS_CSV, headers)
        copy = create_org(session)
        copy_headers = headers_for(create_user(session, copy, role="analyst"))
        import_file(client, connection, copy, copy_headers, exported, kind="customers")
        names = set(
            session.execute(select(Customer.name).where(Customer.org_id == copy.id)).scalars()
        )
        assert names == {f"Bob\r{prefix}1+2" for prefix in DANGEROUS_PREFIXES}
        again = records(get_text(client, CUSTOMERS_CSV, copy_headers))
        assert [row[:2] for row in again] == [row[:2] for row in records(exported)]
