"""Queries of the metrics domain: every aggregate runs in PostgreSQL, scoped to one organisation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Numeric,
    String,
    and_,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import INTERVAL
from sqlalchemy.orm import Session

from spendlens.metrics.definitions import (
    BREAKDOWN_METRICS,
    SUMMARY_METRICS,
    MetricDefinition,
    TRANSACTION_COUNT,
    TOTAL_SPEND,
)
from spendlens.metrics.schemas import BreakdownDimension, Interval, Period
from spendlens.models import Customer, Merchant, Transaction
from spendlens.transactions.filters import TransactionFilters, day_start, filter_conditions

transactions = Transaction.__table__
NO_MERCHANT_LABEL = "(no merchant)"


def _scoped(filters: TransactionFilters, org_id: int, currency: str, period: Period):
    """The filter set for `period` in one organisation, and only transactions in `currency`."""
    scoped = filters.with_period(period.start_date, period.end_date)
    return [*filter_conditions(scoped, org_id), transactions.c.currency == currency]


def summary_figures(
    session: Session,
    org_id: int,
    filters: TransactionFilters,
    currency: str,
    *,
    current: Period,
    previous: Period,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every summary metric for `current` and `previous` (adjacent) in one scan of both periods."""
    t = transactions.c
    in_current = t.occurred_at >= day_start(current.start_date)
    in_previous = t.occurred_at < day_start(current.start_date)
    both = Period(start_date=previous.start_date, end_date=current.end_date)
    stmt = select(
        *(m.sql(t, in_current).label(f"current_{m.slug}") for m in SUMMARY_METRICS),
        *(m.sql(t, in_previous).label(f"previous_{m.slug}") for m in SUMMARY_METRICS),
    ).where(*_scoped(filters, org_id, currency, both))
    row = session.execute(stmt).mappings().one()
    return (
        {m.slug: row[f"current_{m.slug}"] for m in SUMMARY_METRICS},
        {m.slug: row[f"previous_{m.slug}"] for m in SUMMARY_METRICS},
    )


def timeseries(
    session: Session,
    org_id: int,
    filters: TransactionFilters,
    currency: str,
    *,
    period: Period,
    interval: Interval,
    metrics: Sequence[MetricDefinition],
) -> list[dict[str, Any]]:
    """One row per interval from the one holding start to the one holding end, empty ones zero.

    Buckets are UTC calendar intervals (date_trunc on the UTC wall time; weeks start Monday).
    """
    t = transactions.c
    unit = literal(interval.value)
    utc_time = func.timezone("UTC", t.occurred_at)
    bucket = func.date_trunc(unit, utc_time)
    series = select(
        func.generate_series(
            func.date_trunc(unit, cast(literal(period.start_date, Date), DateTime(timezone=False))),
            func.date_trunc(unit, cast(literal(period.end_date, Date), DateTime(timezone=False))),
            cast(literal(f"1 {interval.value}"), INTERVAL),
        ).label("period_start")
    ).cte("series")
    aggregates = (
        select(bucket.label("bucket"), *(m.sql(t).label(m.slug) for m in metrics))
        .where(*_scoped(filters, org_id, currency, period))
        .group_by(bucket)
        .cte("aggregates")
    )
    stmt = (
        select(
            cast(series.c.period_start, Date).label("period_start"),
            *(func.coalesce(aggregates.c[m.slug], _zero(m)).label(m.slug) for m in metrics),
        )
        .select_from(series.outerjoin(aggregates, aggregates.c.bucket == series.c.period_start))
        .order_by(series.c.period_start)
    )
    return [dict(row) for row in session.execute(stmt).mappings()]


@dataclass(frozen=True)
class BreakdownRows:
    items: list[dict[str, Any]]
    other: dict[str, Any]


def breakdown(
    session: Session,
    org_id: int,
    filters: TransactionFilters,
    currency: str,
    *,
    period: Period,
    by: BreakdownDimension,
    top: int,
) -> BreakdownRows:
    """The `top` keys of `by` by total spend (then label, then key), and the rest summed.

    One query: group, label, rank with row_number(), then the top rows UNION ALL one row that
    sums every row ranked below them.
    """
    t = transactions.c
    group_id = {
        BreakdownDimension.category: t.category,
        BreakdownDimension.merchant: t.merchant_id,
        BreakdownDimension.customer: t.customer_id,
    }[by]
    grouped = (
        select(group_id.label("group_id"), *(m.sql(t).label(m.slug) for m in BREAKDOWN_METRICS))
        .where(*_scoped(filters, org_id, currency, period))
        .group_by(group_id)
        .cte("grouped")
    )
    g = grouped.c
    if by is BreakdownDimension.category:
        key, label, source = g.group_id, g.group_id, grouped
    elif by is BreakdownDimension.merchant:
        key = cast(g.group_id, String)
        label = func.coalesce(Merchant.name, NO_MERCHANT_LABEL)
        source = grouped.outerjoin(
            Merchant, and_(Merchant.org_id == org_id, Merchant.id == g.group_id)
        )
    else:
        key, label = cast(g.group_id, String), Customer.name
        source = grouped.join(Customer, and_(Customer.org_id == org_id, Customer.id == g.group_id))
    rank = func.row_number().over(
        order_by=(g.total_spend.desc(), label, g.group_id.asc().nulls_last())
    )
    ranked = (
        select(
            key.label("key"),
            label.label("label"),
            g.total_spend,
            g.transaction_count,
            rank.label("rank"),
        )
        .select_from(source)
        .cte("ranked")
    )
    r = ranked.c
    top_rows = select(
        r.key,
        r.label,
        r.total_spend,
        r.transaction_count,
        r.rank,
        literal(1).label("count"),
    ).where(r.rank <= top)
    other_row = select(
        cast(null(), String).label("key"),
        literal("Other").label("label"),
        func.coalesce(func.sum(r.total_spend), _zero(TOTAL_SPEND)).label("total_spend"),
        func.coalesce(func.sum(r.transaction_count), _zero(TRANSACTION_COUNT)).label(
            "transaction_count"
        ),
        cast(null(), BigInteger).label("rank"),
        func.count().label("count"),
    ).where(r.rank > top)
    combined = union_all(top_rows, other_row).subquery()
    # The Other row has no rank, so it comes last.
    stmt = select(combined).order_by(combined.c.rank.asc().nulls_last())
    rows = [dict(row) for row in session.execute(stmt).mappings()]
    return BreakdownRows(items=rows[:-1], other=rows[-1])


def _zero(metric: MetricDefinition):
    return literal(Decimal("0.00"), Numeric(14, 2)) if metric.kind == "money" else literal(0)
