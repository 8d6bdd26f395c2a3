"""Queries over customers and their spending, always within one organisation.

Totals are aggregated in PostgreSQL from the organisation's transactions in its base currency,
with the same metric definitions as /metrics, so a customer's total spend means the same thing
everywhere. A list page is chosen first and only its customers' transactions are aggregated;
sorting by a total aggregates just that one figure over every customer.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CTE,
    ColumnElement,
    Date,
    Numeric,
    Select,
    Subquery,
    cast,
    delete,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import INTERVAL
from sqlalchemy.orm import Session

from spendlens.clv import repository as clv_repository
from spendlens.customers.filters import CustomerFilters, filter_conditions
from spendlens.customers.schemas import CustomerSort
from spendlens.health import repository as health_repository
from spendlens.metrics.definitions import TOTAL_SPEND, TRANSACTION_COUNT
from spendlens.models import Customer, Transaction
from spendlens.models.rules import is_purchase
from spendlens.segments import repository as segments_repository

transactions = Transaction.__table__
# Sorts by a figure of the latest CLV fit: (column of clv_estimates, descending).
_CLV_SORTS = {
    CustomerSort.clv_asc: ("clv", False),
    CustomerSort.clv_desc: ("clv", True),
    CustomerSort.p_alive_asc: ("p_alive", False),
    CustomerSort.p_alive_desc: ("p_alive", True),
}
ZERO_MONEY = literal(Decimal("0.00"), Numeric(14, 2))


def customer_totals(
    org_id: int,
    currency: str,
    customer_ids: Select | Sequence[int] | None = None,
    *,
    name: str = "totals",
) -> Subquery:
    """Spending totals per customer (those in `customer_ids`, or all), from their transactions in
    `currency`: the one definition the list, the detail and the export share."""
    t = transactions.c
    purchase = is_purchase(t)
    scope = [t.org_id == org_id, t.currency == currency]
    if customer_ids is not None:
        scope.append(t.customer_id.in_(customer_ids))
    return (
        select(
            t.customer_id,
            TOTAL_SPEND.sql(t).label("total_spend"),
            TRANSACTION_COUNT.sql(t).label("transaction_count"),
            func.min(t.occurred_at).filter(purchase).label("first_purchase"),
            func.max(t.occurred_at).filter(purchase).label("last_purchase"),
        )
        .where(*scope)
        .group_by(t.customer_id)
        .subquery(name)
    )


def _profile_with_totals(totals: Subquery) -> Select:
    """Customer columns and their totals; customers without transactions get 0.00, 0 and nulls."""
    return select(
        Customer.id,
        Customer.external_id,
        Customer.name,
        Customer.email,
        Customer.country,
        Customer.signup_date,
        Customer.lifecycle_stage,
        func.coalesce(totals.c.total_spend, ZERO_MONEY).label("total_spend"),
        func.coalesce(totals.c.transaction_count, 0).label("transaction_count"),
        totals.c.first_purchase,
        totals.c.last_purchase,
    )


def _sort_keys(org_id: int, currency: str, sort: CustomerSort) -> Subquery | None:
    """The one per-customer figure a sort by totals needs, over every customer of the org."""
    t = transactions.c
    if sort in (CustomerSort.total_spend_asc, CustomerSort.total_spend_desc):
        figure = TOTAL_SPEND.sql(t).label("total_spend")
        scope = (t.org_id == org_id, t.currency == currency)
    elif sort in (CustomerSort.last_purchase_asc, CustomerSort.last_purchase_desc):
        figure = func.max(t.occurred_at).label("last_purchase")
        scope = (t.org_id == org_id, t.currency == currency, is_purchase(t))
    elif sort in _CLV_SORTS:
        return clv_repository.latest_estimates(org_id, name="keys")
    elif sort in (CustomerSort.health_score_asc, CustomerSort.health_score_desc):
        return health_repository.latest_scores(org_id, name="keys")
    else:
        return None
    return select(t.customer_id, figure).where(*scope).group_by(t.customer_id).subquery("keys")


def _order_by(sort: CustomerSort, keys: Subquery | None) -> tuple[ColumnElement, ...]:
    """ORDER BY for `sort`; ties broken by id in the same direction, missing values last."""
    if sort is CustomerSort.name_asc:
        return Customer.name.asc(), Customer.id.asc()
    if sort is CustomerSort.name_desc:
        return Customer.name.desc(), Customer.id.desc()
    if sort is CustomerSort.signup_asc:
        return Customer.signup_date.asc().nulls_last(), Customer.id.asc()
    if sort is CustomerSort.signup_desc:
        return Customer.signup_date.desc().nulls_last(), Customer.id.desc()
    assert keys is not None
    if sort is CustomerSort.total_spend_asc:
        return func.coalesce(keys.c.total_spend, ZERO_MONEY).asc(), Customer.id.asc()
    if sort is CustomerSort.total_spend_desc:
        return func.coalesce(keys.c.total_spend, ZERO_MONEY).desc(), Customer.id.desc()
    if sort is CustomerSort.last_purchase_asc:
        return keys.c.last_purchase.asc().nulls_last(), Customer.id.asc()
    if sort is CustomerSort.last_purchase_desc:
        return keys.c.last_purchase.desc().nulls_last(), Customer.id.desc()
    if sort is CustomerSort.health_score_asc:
        return keys.c.health_score.asc().nulls_last(), Customer.id.asc()
    if sort is CustomerSort.health_score_desc:
        return keys.c.health_score.desc().nulls_last(), Customer.id.desc()
    figure, descending = _CLV_SORTS[sort]
    if descending:
        return keys.c[figure].desc().nulls_last(), Customer.id.desc()
    return keys.c[figure].asc().nulls_last(), Customer.id.asc()


def count(session: Session, org_id: int, filters: CustomerFilters) -> int:
    query = select(func.count()).select_from(Customer).where(*filter_conditions(filters, org_id))
    return session.execute(query).scalar_one()


def _page(
    org_id: int, currency: str, filters: CustomerFilters, sort: CustomerSort, skip: int, limit: int
) -> CTE:
    """Ids of the customers on the page and their position on it."""
    keys = _sort_keys(org_id, currency, sort)
    order = _order_by(sort, keys)
    query = select(
        Customer.id.label("customer_id"), func.row_number().over(order_by=order).label("position")
    ).select_from(Customer)
    if keys is not None:
        query = query.outerjoin(keys, keys.c.customer_id == Customer.id)
    return (
        query.where(*filter_conditions(filters, org_id))
        .order_by(*order)
        .offset(skip)
        .limit(limit)
        .cte("page")
    )


def list_page(
    session: Session,
    org_id: int,
    currency: str,
    filters: CustomerFilters,
    *,
    sort: CustomerSort,
    skip: int,
    limit: int,
) -> list[dict[str, Any]]:
    page = _page(org_id, currency, filters, sort, skip, limit)
    on_page = select(page.c.customer_id)
    totals = customer_totals(org_id, currency, on_page)
    segments = segments_repository.latest_segments(org_id, on_page)
    estimates = clv_repository.latest_estimates(org_id, name="estimates")
    health = health_repository.latest_scores(org_id, name="health")
    query = (
        _profile_with_totals(totals)
        .add_columns(
            segments.c.segment,
            estimates.c.clv,
            estimates.c.p_alive,
            health.c.health_score,
            health.c.health_band,
        )
        .select_from(page)
        .join(Customer, (Customer.org_id == org_id) & (Customer.id == page.c.customer_id))
        .outerjoin(totals, totals.c.customer_id == Customer.id)
        .outerjoin(segments, segments.c.customer_id == Customer.id)
        .outerjoin(estimates, estimates.c.customer_id == Customer.id)
        .outerjoin(health, health.c.customer_id == Customer.id)
        .order_by(page.c.position)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def get_with_totals(
    session: Session, org_id: int, currency: str, customer_id: int
) -> dict[str, Any] | None:
    totals = customer_totals(org_id, currency, [customer_id])
    query = (
        _profile_with_totals(totals)
        .select_from(Customer)
        .outerjoin(totals, totals.c.customer_id == Customer.id)
        .where(Customer.org_id == org_id, Customer.id == customer_id)
    )
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def monthly_spend(
    session: Session, org_id: int, currency: str, customer_id: int
) -> list[dict[str, Any]]:
    """One row per UTC calendar month from the customer's first to last transaction month.

    The range covers refunds too, so the months always add up to the customer's total spend.
    """
    t = transactions.c
    month = func.date_trunc("month", func.timezone("UTC", t.occurred_at))
    scope = (t.org_id == org_id, t.customer_id == customer_id, t.currency == currency)
    bounds = (
        select(func.min(month).label("first_month"), func.max(month).label("last_month"))
        .where(*scope)
        .cte("bounds")
    )
    # Without transactions the bounds are null and generate_series yields no rows.
    series = (
        select(
            func.generate_series(
                bounds.c.first_month, bounds.c.last_month, cast(literal("1 month"), INTERVAL)
            ).label("month")
        )
        .select_from(bounds)
        .cte("series")
    )
    monthly = (
        select(
            month.label("month"),
            TOTAL_SPEND.sql(t).label("total_spend"),
            TRANSACTION_COUNT.sql(t).label("transaction_count"),
        )
        .where(*scope)
        .group_by(month)
        .cte("monthly")
    )
    query = (
        select(
            cast(series.c.month, Date).label("month"),
            func.coalesce(monthly.c.total_spend, ZERO_MONEY).label("total_spend"),
            func.coalesce(monthly.c.transaction_count, 0).label("transaction_count"),
        )
        .select_from(series.outerjoin(monthly, monthly.c.month == series.c.month))
        .order_by(series.c.month)
    )
    return [dict(row) for row in session.execute(query).mappings()]


def get(
    session: Session, org_id: int, customer_id: int, *, for_update: bool = False
) -> Customer | None:
    return session.get(Customer, (org_id, customer_id), with_for_update=for_update)


def external_id_taken(
    session: Session, org_id: int, external_id: str, exclude_id: int | None = None
) -> bool:
    query = select(Customer.id).where(
        Customer.org_id == org_id, Customer.external_id == external_id
    )
    if exclude_id is not None:
        query = query.where(Customer.id != exclude_id)
    return session.execute(query).first() is not None


def transaction_count(session: Session, org_id: int, customer_id: int) -> int:
    """Every transaction of the customer, whatever its kind or currency."""
    query = select(func.count()).where(
        transactions.c.org_id == org_id, transactions.c.customer_id == customer_id
    )
    return session.execute(query).scalar_one()


def delete_transactions(session: Session, org_id: int, customer_id: int) -> int:
    result = session.execute(
        delete(Transaction).where(
            Transaction.org_id == org_id, Transaction.customer_id == customer_id
        )
    )
    return result.rowcount
