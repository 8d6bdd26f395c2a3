"""HTTP routes of /api/v1/metrics: spending summary, time series and breakdown (any role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from spendlens.auth.dependencies import CurrentOrg
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.metrics import service
from spendlens.metrics.schemas import (
    BreakdownDimension,
    Interval,
    MetricsBreakdown,
    MetricsSummary,
    MetricsTimeseries,
)
from spendlens.transactions.filters import FiltersDep

router = APIRouter(prefix="/metrics", tags=["metrics"])

CurrencyParam = Annotated[
    str | None,
    Query(
        pattern=r"^[A-Z]{3}$",
        description="Only transactions in this ISO 4217 currency; defaults to the base currency",
    ),
]


@router.get("", response_model=MetricsSummary, responses=error_responses(401, 422))
def get_summary(
    org: CurrentOrg, session: SessionDep, filters: FiltersDep, currency: CurrencyParam = None
) -> MetricsSummary:
    """Spending figures for a period (default: the last 30 days) and change from the one before."""
    return service.summary(session, org, filters, currency=currency)


@router.get("/timeseries", response_model=MetricsTimeseries, responses=error_responses(401, 422))
def get_timeseries(
    org: CurrentOrg,
    session: SessionDep,
    filters: FiltersDep,
    interval: Annotated[
        Interval, Query(description="Width of one point; weeks start on Monday")
    ] = Interval.month,
    currency: CurrencyParam = None,
) -> MetricsTimeseries:
    """Spending per day, week or month with no gaps (default: the last 12 calendar months)."""
    return service.timeseries(session, org, filters, interval=interval, currency=currency)


@router.get("/breakdown", response_model=MetricsBreakdown, responses=error_responses(401, 422))
def get_breakdown(
    org: CurrentOrg,
    session: SessionDep,
    filters: FiltersDep,
    by: Annotated[
        BreakdownDimension, Query(description="Group spending by this")
    ] = BreakdownDimension.category,
    top: Annotated[int, Query(ge=1, le=100, description="Rows before the rest is 'Other'")] = 10,
    currency: CurrencyParam = None,
) -> MetricsBreakdown:
    """Spending by category, merchant or customer: the top N and the rest summed as Other."""
    return service.breakdown(session, org, filters, by=by, top=top, currency=currency)
