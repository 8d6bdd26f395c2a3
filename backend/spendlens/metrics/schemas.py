"""Response bodies of /api/v1/metrics: money as `Money` (a string with two decimals in JSON)."""

from __future__ import annotations

import enum
from datetime import date

from pydantic import BaseModel, Field

from spendlens.kit.money import Money


class Interval(str, enum.Enum):
    """Width of one time-series point; weeks start on Monday."""

    day = "day"
    week = "week"
    month = "month"


class BreakdownDimension(str, enum.Enum):
    """What a breakdown groups spending by."""

    category = "category"
    merchant = "merchant"
    customer = "customer"


class Period(BaseModel):
    """UTC calendar days, both ends included."""

    start_date: date
    end_date: date

    @property
    def days(self) -> int:
        return (self.end_date - self.start_date).days + 1


class SummaryFigures(BaseModel):
    total_spend: Money = Field(description="Net sum of amounts: refunds subtract")
    transaction_count: int = Field(description="Number of purchases")
    average_transaction: Money = Field(description="Mean purchase amount, rounded to cents")
    median_transaction: Money = Field(description="Median purchase amount, rounded to cents")
    active_customers: int = Field(description="Distinct customers with at least one purchase")


class SummaryChange(BaseModel):
    """(current − previous) / previous, rounded to 4 decimals; null when previous is 0."""

    total_spend: float | None
    transaction_count: float | None
    average_transaction: float | None
    median_transaction: float | None
    active_customers: float | None


class CategoryShare(BaseModel):
    category: str
    total_spend: Money
    share: float = Field(description="Category net spend / total net spend, 4 decimals")


class MetricsSummary(BaseModel):
    period: Period
    previous_period: Period
    currency: str
    total_spend: Money = Field(description="Net sum of amounts: refunds subtract")
    transaction_count: int = Field(description="Number of purchases")
    average_transaction: Money = Field(description="Mean purchase amount, rounded to cents")
    median_transaction: Money = Field(description="Median purchase amount, rounded to cents")
    active_customers: int = Field(description="Distinct customers with at least one purchase")
    top_categories: list[CategoryShare] = Field(description="The 5 categories that spent most")
    previous: SummaryFigures = Field(description="The same figures for the previous period")
    change: SummaryChange


class TimeseriesPoint(BaseModel):
    period_start: date
    total_spend: Money
    transaction_count: int
    active_customers: int
    days: int = Field(description="Days of this bucket inside the requested period")
    partial: bool = Field(
        description="The period covers only part of this week or month (its first or last "
        "point): its figures count only `days` days, so they are not comparable with whole ones"
    )


class MetricsTimeseries(BaseModel):
    interval: Interval
    currency: str
    period: Period
    points: list[TimeseriesPoint]


class BreakdownItem(BaseModel):
    key: str | None = Field(
        description="Category name, or merchant / customer id; null for transactions without one"
    )
    label: str
    total_spend: Money
    transaction_count: int
    share: float = Field(description="total_spend / the breakdown's total_spend, 4 decimals")


class BreakdownOther(BaseModel):
    """Everything beyond the top N, summed; zero when nothing is left over."""

    label: str = "Other"
    total_spend: Money
    transaction_count: int
    share: float
    count: int = Field(description="How many keys are folded into this row")


class MetricsBreakdown(BaseModel):
    by: BreakdownDimension
    currency: str
    period: Period
    total_spend: Money
    items: list[BreakdownItem]
    other: BreakdownOther
