"""HTTP routes of /api/v1/cohorts (any role)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from spendlens.kit.dates import Day
from spendlens.auth.dependencies import CurrentOrg
from spendlens.cohorts import service
from spendlens.cohorts.schemas import CohortMatrix, CohortMetric, CohortPeriod
from spendlens.db import SessionDep
from spendlens.errors import error_responses

router = APIRouter(prefix="/cohorts", tags=["cohorts"])

COHORTS_DOC = f"""
A retention matrix by first-purchase period. A customer's **cohort** is the period (UTC week from
Monday, calendar month or calendar quarter) of their first purchase in the organisation's base
currency; customers whose first purchase lies before `start` belong to earlier cohorts and are
not shown. Each cohort has one cell per period from its own up to the one holding `as_of`
(offset 0, 1, 2, …); periods without activity are 0, never missing.

- `metric=customers`: value = cohort customers with at least one purchase in that period ÷
  cohort size (offset 0 is always 1).
- `metric=revenue`: value = the cohort's net spend in that period (purchases plus refunds) ÷ its
  net spend in its first period.

Values are rounded half away from zero to 4 decimals, and null when the divisor is 0 (an empty
cohort). Every cell also carries its `customers` and `revenue`, whichever metric is asked for.
`start` and `end` (any day; the period holding it is meant) bound the cohorts shown: by default
the {service.DEFAULT_COHORTS} periods up to the one holding `as_of` (default today in the
organisation's time zone); at most {service.MAX_COHORTS} cohorts, and at most
{service.MAX_PERIODS} periods from `start` to `as_of`.
""".strip()


@router.get(
    "", response_model=CohortMatrix, responses=error_responses(401, 422), description=COHORTS_DOC
)
def get_cohorts(
    org: CurrentOrg,
    session: SessionDep,
    period: Annotated[CohortPeriod, Query(description="Cohort and step width")] = (
        CohortPeriod.month
    ),
    metric: Annotated[CohortMetric, Query(description="What the values measure")] = (
        CohortMetric.customers
    ),
    start: Annotated[Day | None, Query(description="First cohort: the period holding it")] = None,
    end: Annotated[Day | None, Query(description="Last cohort: the period holding it")] = None,
    as_of: Annotated[
        Day | None, Query(description="Last day observed; default today (organisation's zone)")
    ] = None,
) -> CohortMatrix:
    """Retention of customer cohorts by first-purchase period: customers or revenue."""
    return service.cohort_matrix(
        session, org, period=period, metric=metric, start=start, end=end, as_of=as_of
    )
