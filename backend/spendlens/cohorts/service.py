"""Business rules of cohorts: default and checked bounds, period arithmetic, and the shares.

Formulas (the SQL is in repository.py):
- cohort of a customer = the period holding their first purchase in the base currency;
- `customers` value of a cell = cohort customers with ≥ 1 purchase in that period / cohort size;
- `revenue` value of a cell = the cohort's net spend in that period / its net spend in its first
  period. Both rounded half away from zero to 4 decimals; null when the divisor is 0.
"""

from __future__ import annotations

from datetime import date, timedelta
from itertools import groupby

from sqlalchemy.orm import Session

from spendlens.cohorts import repository
from spendlens.cohorts.schemas import (
    CohortCell,
    CohortMatrix,
    CohortMetric,
    CohortPeriod,
    CohortRow,
)
from spendlens.errors import Unprocessable
from spendlens.kit.dates import today_in_org_tz
from spendlens.kit.ratios import ratio_or_none
from spendlens.models import Organization
from spendlens.transactions.filters import day_start

DEFAULT_COHORTS = 12
MAX_COHORTS = 200
# Periods from the first cohort to as_of: one branch of the statement each.
MAX_PERIODS = 260
_MONTHS = {CohortPeriod.month: 1, CohortPeriod.quarter: 3}
STEPS = {
    CohortPeriod.week: "1 week",
    CohortPeriod.month: "1 month",
    CohortPeriod.quarter: "3 months",
}


def period_start(day: date, period: CohortPeriod) -> date:
    """The first day of the period holding `day` (what date_trunc gives in SQL)."""
    if period is CohortPeriod.week:
        return day - timedelta(days=day.weekday())
    months = _MONTHS[period]
    return date(day.year, (day.month - 1) // months * months + 1, 1)


def add_periods(start: date, period: CohortPeriod, count: int) -> date:
    """The period start `count` periods after (or before) the period start `start`."""
    if period is CohortPeriod.week:
        return start + timedelta(weeks=count)
    index = start.year * 12 + start.month - 1 + count * _MONTHS[period]
    return date(index // 12, index % 12 + 1, 1)


def periods_between(first: date, last: date, period: CohortPeriod) -> int:
    """How many periods from the period start `first` to the period start `last`."""
    if period is CohortPeriod.week:
        return (last - first).days // 7
    return ((last.year - first.year) * 12 + last.month - first.month) // _MONTHS[period]


def cohort_matrix(
    session: Session,
    org: Organization,
    *,
    period: CohortPeriod = CohortPeriod.month,
    metric: CohortMetric = CohortMetric.customers,
    start: date | None = None,
    end: date | None = None,
    as_of: date | None = None,
) -> CohortMatrix:
    today = today_in_org_tz(org)
    as_of = as_of or today
    if as_of > today:
        raise Unprocessable("as_of is in the future", loc=("query", "as_of"))
    if end is not None and end > as_of:
        raise Unprocessable("end is after as_of", loc=("query", "end"))
    if start is not None and end is not None and start > end:
        raise Unprocessable("start is after end", loc=("query", "start"))
    try:
        last = period_start(end or as_of, period)
        first = (
            period_start(start, period)
            if start is not None
            else add_periods(last, period, -(DEFAULT_COHORTS - 1))
        )
    except (OverflowError, ValueError):
        raise Unprocessable("The dates are outside the supported range", loc=("query", "start"))
    count = periods_between(first, last, period) + 1
    if count > MAX_COHORTS:
        raise Unprocessable(
            f"start to end makes {count} cohorts; at most {MAX_COHORTS} are allowed",
            loc=("query", "start"),
        )
    period_count = periods_between(first, period_start(as_of, period), period) + 1
    if period_count > MAX_PERIODS:
        raise Unprocessable(
            f"start to as_of makes {period_count} periods; at most {MAX_PERIODS} are allowed",
            loc=("query", "start"),
        )
    horizon = day_start(as_of + timedelta(days=1))
    starts = [add_periods(first, period, k) for k in range(period_count)]
    bounds = [day_start(day) for day in starts] + [horizon]
    rows = repository.matrix_cells(
        session, org.id, org.base_currency, bounds=bounds, cohort_count=count
    )
    cohorts = []
    for cohort, group in groupby(rows, key=lambda r: r["cohort"]):
        cells = list(group)
        size, first_revenue = cells[0]["size"], cells[0]["revenue"]
        cohorts.append(
            CohortRow(
                cohort_start=starts[cohort - 1],
                size=size,
                first_period_revenue=first_revenue,
                cells=[
                    CohortCell(
                        offset=cell["period"] - cohort,
                        period_start=starts[cell["period"] - 1],
                        customers=cell["customers"],
                        revenue=cell["revenue"],
                        value=(
                            ratio_or_none(cell["customers"], size)
                            if metric is CohortMetric.customers
                            else ratio_or_none(cell["revenue"], first_revenue)
                        ),
                    )
                    for cell in cells
                ],
            )
        )
    return CohortMatrix(
        period=period,
        metric=metric,
        currency=org.base_currency,
        as_of=as_of,
        start=first,
        end=last,
        cohorts=cohorts,
    )
