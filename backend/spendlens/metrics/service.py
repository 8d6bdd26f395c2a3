"""Business rules of the metrics domain: default periods, period maths, shares and change.

Formulas (each metric's SQL lives in definitions.py):
- share  = part / total, rounded half away from zero to 4 decimals; 0 when total is 0.
- change = (current − previous) / previous, rounded the same way; null when previous is 0.
Ratios are computed exactly and only the rounded result becomes a float (spendlens.kit.ratios).
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from spendlens.errors import Unprocessable
from spendlens.kit.dates import today_utc
from spendlens.kit.ratios import ratio_or_none, share_of
from spendlens.metrics import repository
from spendlens.metrics.definitions import SUMMARY_METRICS, TIMESERIES_METRICS
from spendlens.metrics.schemas import (
    BreakdownDimension,
    BreakdownItem,
    BreakdownOther,
    CategoryShare,
    Interval,
    MetricsBreakdown,
    MetricsSummary,
    MetricsTimeseries,
    Period,
    SummaryChange,
    SummaryFigures,
    TimeseriesPoint,
)
from spendlens.models import Organization
from spendlens.transactions.filters import TransactionFilters

SUMMARY_DAYS = 30
TIMESERIES_MONTHS = 12
MAX_POINTS = 3660
TOP_CATEGORIES = 5


def change_from(current: Decimal | int, previous: Decimal | int) -> float | None:
    return ratio_or_none(Decimal(current) - Decimal(previous), previous)


# ---------------------------------------------------------------------------------------------
# Periods


def _out_of_range() -> Unprocessable:
    return Unprocessable("The period is outside the supported dates", loc=("query", "start_date"))


def _checked(period: Period) -> Period:
    # The day after end_date bounds the SQL range, so it must exist too.
    if period.end_date >= date.max:
        raise _out_of_range()
    return period


def rolling_period(filters: TransactionFilters, today: date, days: int = SUMMARY_DAYS) -> Period:
    """The requested days. No dates: the `days` up to today. Only a start: from it up to today
    (or `days` long when it lies in the future). Only an end: the `days` ending there."""
    start, end = filters.start_date, filters.end_date
    try:
        if end is None:
            if start is None or start <= today:
                end = today
            else:
                end = start + timedelta(days=days - 1)
        if start is None:
            start = end - timedelta(days=days - 1)
    except OverflowError:
        raise _out_of_range()
    return _checked(Period(start_date=start, end_date=end))


def previous_period(period: Period) -> Period:
    """The equally long period that ends the day before `period` starts."""
    try:
        return Period(
            start_date=period.start_date - timedelta(days=period.days),
            end_date=period.start_date - timedelta(days=1),
        )
    except OverflowError:
        raise _out_of_range()


def _add_months(year: int, month: int, months: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + months
    return index // 12, index % 12 + 1


def calendar_months_period(
    filters: TransactionFilters, today: date, months: int = TIMESERIES_MONTHS
) -> Period:
    """The requested days; a missing bound makes the period span `months` calendar months.

    No dates: from the first day of the month `months − 1` before today's month, to today.
    Only an end: from the first day of the month `months − 1` before the end's month.
    Only a start: up to today, or when the start lies in the future, to the last day of the
    month `months − 1` after the start's month.
    """
    start, end = filters.start_date, filters.end_date
    try:
        if start is None:
            end = end or today
            year, month = _add_months(end.year, end.month, -(months - 1))
            start = date(year, month, 1)
        elif end is None and start <= today:
            end = today
        elif end is None:
            year, month = _add_months(start.year, start.month, months)
            end = date(year, month, 1) - timedelta(days=1)
    except (OverflowError, ValueError):
        raise _out_of_range()
    return _checked(Period(start_date=start, end_date=end))


def point_count(period: Period, interval: Interval) -> int:
    """How many points date_trunc(interval) buckets from start to end make."""
    start, end = period.start_date, period.end_date
    if interval is Interval.day:
        return (end - start).days + 1
    if interval is Interval.week:
        monday = start - timedelta(days=start.weekday())
        return (end - monday).days // 7 + 1
    return (end.year - start.year) * 12 + (end.month - start.month) + 1


def bucket_days(period_start: date, period: Period, interval: Interval) -> tuple[int, bool]:
    """(days of the bucket starting `period_start` inside `period`, whether that is fewer than
    the bucket's whole length)."""
    if interval is Interval.day:
        return 1, False
    if interval is Interval.week:
        following = period_start + timedelta(days=7)
    else:
        year, month = divmod(period_start.month, 12)
        following = date(period_start.year + year, month + 1, 1)
    first = max(period_start, period.start_date)
    last = min(following - timedelta(days=1), period.end_date)
    days = (last - first).days + 1
    return days, days < (following - period_start).days


# ---------------------------------------------------------------------------------------------
# Routes


def summary(
    session: Session,
    org: Organization,
    filters: TransactionFilters,
    *,
    currency: str | None = None,
    today: date | None = None,
) -> MetricsSummary:
    currency = currency or org.base_currency
    period = rolling_period(filters, today or today_utc())
    previous = previous_period(period)
    current_figures, previous_figures = repository.summary_figures(
        session, org.id, filters, currency, current=period, previous=previous
    )
    categories = repository.breakdown(
        session,
        org.id,
        filters,
        currency,
        period=period,
        by=BreakdownDimension.category,
        top=TOP_CATEGORIES,
    )
    total = current_figures["total_spend"]
    return MetricsSummary(
        period=period,
        previous_period=previous,
        currency=currency,
        **current_figures,
        top_categories=[
            CategoryShare(
                category=row["label"],
                total_spend=row["total_spend"],
                share=share_of(row["total_spend"], total),
            )
            for row in categories.items
        ],
        previous=SummaryFigures(**previous_figures),
        change=SummaryChange(
            **{
                m.slug: change_from(current_figures[m.slug], previous_figures[m.slug])
                for m in SUMMARY_METRICS
            }
        ),
    )


def timeseries(
    session: Session,
    org: Organization,
    filters: TransactionFilters,
    *,
    interval: Interval = Interval.month,
    currency: str | None = None,
    today: date | None = None,
) -> MetricsTimeseries:
    currency = currency or org.base_currency
    period = calendar_months_period(filters, today or today_utc())
    points = point_count(period, interval)
    if points > MAX_POINTS:
        raise Unprocessable(
            f"The period makes {points} {interval.value} points; at most {MAX_POINTS} are allowed",
            loc=("query", "interval"),
        )
    rows = repository.timeseries(
        session,
        org.id,
        filters,
        currency,
        period=period,
        interval=interval,
        metrics=TIMESERIES_METRICS,
    )
    return MetricsTimeseries(
        interval=interval,
        currency=currency,
        period=period,
        points=[_point(row, period, interval) for row in rows],
    )


def _point(row: dict[str, Any], period: Period, interval: Interval) -> TimeseriesPoint:
    days, partial = bucket_days(row["period_start"], period, interval)
    return TimeseriesPoint.model_validate({**row, "days": days, "partial": partial})


def breakdown(
    session: Session,
    org: Organization,
    filters: TransactionFilters,
    *,
    by: BreakdownDimension = BreakdownDimension.category,
    top: int = 10,
    currency: str | None = None,
    today: date | None = None,
) -> MetricsBreakdown:
    currency = currency or org.base_currency
    period = rolling_period(filters, today or today_utc())
    rows = repository.breakdown(session, org.id, filters, currency, period=period, by=by, top=top)
    total = sum((row["total_spend"] for row in rows.items), rows.other["total_spend"])

    def with_share(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "share": share_of(row["total_spend"], total)}

    return MetricsBreakdown(
        by=by,
        currency=currency,
        period=period,
        total_spend=total,
        items=[BreakdownItem.model_validate(with_share(row)) for row in rows.items],
        other=BreakdownOther.model_validate(with_share(rows.other)),
    )
