"""Bodies of /api/v1/cohorts: money as `Money` (a string with two decimals in JSON)."""

from __future__ import annotations

from datetime import date
from enum import Enum

from pydantic import BaseModel, Field

from spendlens.kit.money import Money


class CohortPeriod(str, Enum):
    """Width of a cohort and of each step after it: ISO weeks (from Monday), calendar months or
    calendar quarters, in UTC."""

    week = "week"
    month = "month"
    quarter = "quarter"


class CohortMetric(str, Enum):
    customers = "customers"
    revenue = "revenue"


class CohortCell(BaseModel):
    offset: int = Field(description="Periods after the cohort's first (0 = the first period)")
    period_start: date
    customers: int = Field(description="Cohort customers with at least one purchase then")
    revenue: Money = Field(description="The cohort's net spend then (refunds subtract)")
    value: float | None = Field(
        description=(
            "`customers`: customers / cohort size; `revenue`: revenue / first-period revenue; "
            "4 decimals, null when the divisor is 0"
        )
    )


class CohortRow(BaseModel):
    cohort_start: date = Field(description="First day of the period of the first purchases")
    size: int = Field(description="Customers whose first purchase fell in this period")
    first_period_revenue: Money = Field(description="The cohort's net spend in that period")
    cells: list[CohortCell] = Field(
        description="One per period from the cohort's first up to the one holding as_of"
    )


class CohortMatrix(BaseModel):
    period: CohortPeriod
    metric: CohortMetric
    currency: str
    as_of: date = Field(description="Last day observed")
    start: date = Field(description="First cohort (start of its period)")
    end: date = Field(description="Last cohort (start of its period)")
    cohorts: list[CohortRow] = Field(description="Every period from start to end, oldest first")
