"""Streamed exports: each is a generator of text chunks read from server-side cursors, so an
organisation of any size is written without holding it in memory.

The layouts are what the importer reads back: the customers CSV is the native customers layout
(its totals columns are ignored on import), the merchants CSV the native merchants layout, and
the organisation JSON's `merchants`, `customers` and `transactions` lists are JSON imports of
those kinds. Nothing in them is a database id, so an
export of an organisation and of its copy made by importing that export are identical.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Select

from spendlens.customers.filters import CustomerFilters
from spendlens.exports import repository
from spendlens.kit.csvtools import csv_line, neutralise_formula
from spendlens.kit.money import format_money
from spendlens.tenancy import set_org

ConnectionFactory = Callable[[], AbstractContextManager[Connection]]

ORG_EXPORT_FORMAT = "spendlens-org-export"
ORG_EXPORT_VERSION = 1
CHUNK_CHARS = 64 * 1024
STREAM_OPTIONS = {"stream_results": True, "yield_per": 2000}

CUSTOMER_COLUMNS = (
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
)
# With `include=clv`: the customer's figures from the latest CLV fit (empty without one).
CLV_COLUMNS = ("expected_purchases", "p_alive", "expected_spend", "clv")
_CUSTOMER_TEXT = {"external_id", "name", "email"}
_MONEY = {"total_spend", "amount", "expected_spend", "clv"}
_FRACTIONS = {"expected_purchases", "p_alive"}  # model outputs, written with 4 decimals


def _plain(column: str, value: Any) -> Any:
    """A value as exported: money with two decimals, timestamps ISO 8601 in UTC."""
    if value is None:
        return None
    if column in _MONEY:
        return format_money(Decimal(value))
    if column in _FRACTIONS:
        return f"{value:.4f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rows(conn: Connection, query: Select) -> Iterator[dict[str, Any]]:
    result = conn.execute(query, execution_options=STREAM_OPTIONS)
    for row in result.mappings():
        yield dict(row)


def _chunked(pieces: Iterable[str]) -> Iterator[str]:
    """Joins small pieces into chunks of about CHUNK_CHARS, so a response is not sent per row."""
    buffer: list[str] = []
    size = 0
    try:
        for piece in pieces:
            buffer.append(piece)
            size += len(piece)
            if size >= CHUNK_CHARS:
                yield "".join(buffer)
                buffer, size = [], 0
        if buffer:
            yield "".join(buffer)
    finally:
        # Closing this generator (a client gone) closes the one holding the cursor at once.
        close = getattr(pieces, "close", None)
        if close is not None:
            close()


def customers_csv(
    connect: ConnectionFactory,
    org_id: int,
    currency: str,
    filters: CustomerFilters,
    *,
    include_clv: bool = False,
) -> Iterator[str]:
    """The filtered customers with their totals (in the base currency) as CSV, by external id;
    with `include_clv`, CLV_COLUMNS after them.

    Free-text cells are neutralised against spreadsheet formula injection.
    """
    return _chunked(_customer_lines(connect, org_id, currency, filters, include_clv))


def _customer_lines(
    connect: ConnectionFactory,
    org_id: int,
    currency: str,
    filters: CustomerFilters,
    include_clv: bool,
) -> Iterator[str]:
    columns = CUSTOMER_COLUMNS + (CLV_COLUMNS if include_clv else ())
    yield csv_line(columns)
    query = repository.customers_with_totals_query(
        org_id, currency, filters, include_clv=include_clv
    )
    with connect() as conn:
        set_org(conn, org_id)  # its own connection: row-level security needs the org too
        for row in _rows(conn, query):
            cells = []
            for column in columns:
                value = _plain(column, row[column])
                if value is None:
                    cells.append("")
                elif column in _CUSTOMER_TEXT:
                    cells.append(neutralise_formula(str(value)))
                else:
                    cells.append(value)
            yield csv_line(cells)


MERCHANT_COLUMNS = ("name", "default_category")


def merchants_csv(connect: ConnectionFactory, org_id: int) -> Iterator[str]:
    """Every merchant (name, default category) as CSV, by name; cells neutralised against
    spreadsheet formula injection."""
    return _chunked(_merchant_lines(connect, org_id))


def _merchant_lines(connect: ConnectionFactory, org_id: int) -> Iterator[str]:
    yield csv_line(MERCHANT_COLUMNS)
    with connect() as conn:
        set_org(conn, org_id)
        for row in _rows(conn, repository.merchants_query(org_id)):
            yield csv_line(
                [
                    "" if row[column] is None else neutralise_formula(row[column])
                    for column in MERCHANT_COLUMNS
                ]
            )


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _json_list(name: str, rows: Iterator[dict[str, Any]], *, last: bool = False) -> Iterator[str]:
    yield f"{_json(name)}:["
    separator = "\n"
    for row in rows:
        yield separator + _json({key: _plain(key, value) for key, value in row.items()})
        separator = ",\n"
    yield "\n]" + ("" if last else ",\n")


def organization_json(connect: ConnectionFactory, org_id: int) -> Iterator[str]:
    """The whole organisation as one JSON document, written incrementally.

    `{"format", "version", "organization", "customers", "merchants", "transactions"}`; customers
    ordered by external id, merchants by name, transactions by external id (then date, customer,
    amount); customers and merchants are referenced by external id and name.
    """
    return _chunked(_organization_pieces(connect, org_id))


def _organization_pieces(connect: ConnectionFactory, org_id: int) -> Iterator[str]:
    with connect() as conn:
        if not conn.in_transaction():
            # One snapshot for every list, so no transaction names a customer the list lacks.
            conn.execution_options(isolation_level="REPEATABLE READ")
        set_org(conn, org_id)
        org = conn.execute(repository.organization_query(org_id)).mappings().one()
        yield "{" + f'"format":{_json(ORG_EXPORT_FORMAT)},"version":{ORG_EXPORT_VERSION},\n'
        yield f'"organization":{_json(dict(org))},\n'
        yield from _json_list("customers", _rows(conn, repository.customers_query(org_id)))
        yield from _json_list("merchants", _rows(conn, repository.merchants_query(org_id)))
        yield from _json_list(
            "transactions", _rows(conn, repository.transactions_query(org_id)), last=True
        )
    yield "}\n"
