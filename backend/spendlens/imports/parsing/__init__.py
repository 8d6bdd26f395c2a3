"""SQL that turns a staged file (text columns c1, c2 …) into typed rows, inside PostgreSQL.

Nothing here raises on bad input: every value is checked by a regular expression or a range before
it is cast, so one statement reads a million rows and gives each row either its first problem
(column, value, reason), the reason the format skips it, or neither.

query.py holds the pieces of a query, cells.py and dates.py the SQL reading one cell, builder.py
the SELECT they are assembled in, and transactions.py, customers.py and merchants.py the rules of
each kind of file.
"""

from __future__ import annotations

from spendlens.imports.formats import SourcePlan
from spendlens.imports.parsing.customers import customer_rows
from spendlens.imports.parsing.merchants import merchant_rows
from spendlens.imports.parsing.query import ParseQuery
from spendlens.imports.parsing.transactions import transaction_rows
from spendlens.imports.schemas import ImportKind

__all__ = ["ParseQuery", "parse_query"]


def parse_query(
    plan: SourcePlan, staging: str, *, org_id: int, timezone: str, currency: str
) -> ParseQuery:
    """The query parsing a staged file of `plan.kind`; times without an offset are read in
    `timezone`, amounts without a currency are in `currency`."""
    if plan.kind is ImportKind.transactions:
        return transaction_rows(plan, staging, org_id=org_id, timezone=timezone, currency=currency)
    if plan.kind is ImportKind.merchants:
        return merchant_rows(plan, staging)
    return customer_rows(plan, staging)
