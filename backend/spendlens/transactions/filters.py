"""The filter set shared by transaction lists, exports and every analytics endpoint.

The dashboard's filter bar maps one-to-one onto these query parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, func, or_, select

from spendlens.kit.dates import Day
from spendlens.errors import Unprocessable
from spendlens.kit.sql import contains_pattern
from spendlens.models import Merchant, Transaction
from spendlens.models.rules import AMOUNT_DIGITS, AMOUNT_PLACES, CATEGORY_LENGTH, NAME_LENGTH


@dataclass(frozen=True)
class TransactionFilters:
    start_date: date | None = None
    end_date: date | None = None
    categories: tuple[str, ...] = ()
    merchants: tuple[str, ...] = ()
    customer_id: int | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    q: str | None = None

    def with_period(self, start: date, end: date) -> "TransactionFilters":
        return replace(self, start_date=start, end_date=end)


def day_start(d: date) -> datetime:
    """Dates are UTC calendar days: a date range covers [start 00:00, end+1 00:00) UTC."""
    return datetime.combine(d, time.min, tzinfo=UTC)


def filter_conditions(
    filters: TransactionFilters, org_id: int, table=Transaction.__table__
) -> list[ColumnElement[bool]]:
    """WHERE conditions for `filters` within one organisation, on the transactions table."""
    t = table.c
    conditions: list[ColumnElement[bool]] = [t.org_id == org_id]
    if filters.start_date is not None:
        conditions.append(t.occurred_at >= day_start(filters.start_date))
    if filters.end_date is not None:
        conditions.append(t.occurred_at < day_start(filters.end_date + timedelta(days=1)))
    if filters.categories:
        conditions.append(t.category.in_(filters.categories))
    if filters.merchants:
        merchant_ids = select(Merchant.id).where(
            Merchant.org_id == org_id,
            func.lower(Merchant.name).in_([m.lower() for m in filters.merchants]),
        )
        conditions.append(t.merchant_id.in_(merchant_ids))
    if filters.customer_id is not None:
        conditions.append(t.customer_id == filters.customer_id)
    if filters.min_amount is not None:
        conditions.append(t.amount >= filters.min_amount)
    if filters.max_amount is not None:
        conditions.append(t.amount <= filters.max_amount)
    if filters.q:
        pattern = contains_pattern(filters.q)
        matching_merchants = select(Merchant.id).where(
            Merchant.org_id == org_id, Merchant.name.ilike(pattern, escape="\\")
        )
        conditions.append(
            or_(
                t.description.ilike(pattern, escape="\\"),
                t.category.ilike(pattern, escape="\\"),
                t.merchant_id.in_(matching_merchants),
            )
        )
    return conditions


def _amount_query(description: str) -> Any:
    """An amount bound: money as the transactions table holds it."""
    return Query(description=description, max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)


def transaction_filters(
    start_date: Annotated[
        Day | None, Query(description="First day included (UTC), YYYY-MM-DD")
    ] = None,
    end_date: Annotated[
        Day | None, Query(description="Last day included (UTC), YYYY-MM-DD")
    ] = None,
    category: Annotated[
        list[str] | None,
        Query(description="Category; repeat for several", max_length=CATEGORY_LENGTH),
    ] = None,
    merchant: Annotated[
        list[str] | None,
        Query(
            description="Merchant name (case-insensitive); repeat for several",
            max_length=NAME_LENGTH,
        ),
    ] = None,
    customer_id: Annotated[int | None, Query(ge=1, description="Only this customer")] = None,
    min_amount: Annotated[Decimal | None, _amount_query("Smallest amount included")] = None,
    max_amount: Annotated[Decimal | None, _amount_query("Largest amount included")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            description="Case-insensitive text in description, category or merchant name",
        ),
    ] = None,
) -> TransactionFilters:
    if end_date is not None and end_date >= date.max:
        # The day after end_date bounds the query, so it has to exist.
        raise Unprocessable("end_date is out of range", loc=("query", "end_date"))
    if start_date and end_date and end_date < start_date:
        raise Unprocessable("end_date is before start_date", loc=("query", "end_date"))
    if min_amount is not None and max_amount is not None and max_amount < min_amount:
        raise Unprocessable("max_amount is below min_amount", loc=("query", "max_amount"))
    return TransactionFilters(
        start_date=start_date,
        end_date=end_date,
        categories=tuple(dict.fromkeys(category or ())),
        merchants=tuple(dict.fromkeys(merchant or ())),
        customer_id=customer_id,
        min_amount=min_amount,
        max_amount=max_amount,
        q=q.strip() if q and q.strip() else None,
    )


FiltersDep = Annotated[TransactionFilters, Depends(transaction_filters)]
