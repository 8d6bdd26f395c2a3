"""HTTP routes of /api/v1/journey and /api/v1/customers/{id}/stages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from spendlens.auth.dependencies import AdminUser, CurrentUser, OrgScope
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.journey import service
from spendlens.journey.schemas import (
    CustomerStagesOut,
    FlowsOut,
    FunnelOut,
    JourneySettingsOut,
    JourneySettingsUpdate,
    StagesOut,
    StagesTimeseries,
)
from spendlens.kit.dates import Day
from spendlens.metrics.schemas import Interval

router = APIRouter(prefix="/journey", tags=["journey"])
customer_stages_router = APIRouter(prefix="/customers", tags=["journey"])

RULES_DOC = """
**Stages** are derived from the customer's events only: *lead* from their first event, *prospect*
at the first `plan_selected` or `shop_created`, *customer* at a `payment_succeeded`, *churned* at an
`account_deleted`, at the deletion of their last open shop, or exactly `churn_after_days` (see
`GET /api/v1/journey/settings`) after their latest successful payment when none followed; a churned
customer who pays again is a customer again (a reactivation). Events are applied in order of
`occurred_at` (ties by `event_id`); the stage at an instant counts every event at or before it.
Stages follow new events within seconds (a background job); the README has the full rules.
"""

INSTANT_DOC = (
    "a date (YYYY-MM-DD: the end of that UTC day) or an ISO 8601 date and time (UTC without "
    "an offset)"
)


@customer_stages_router.get(
    "/{customer_id}/stages",
    response_model=CustomerStagesOut,
    responses=error_responses(401, 404, 422),
    description="The customer's stage history as intervals, oldest first, and their milestones."
    + "\n\n"
    + RULES_DOC,
)
def get_customer_stages(
    customer_id: int, org_id: OrgScope, session: SessionDep
) -> CustomerStagesOut:
    """A customer's stage history (intervals) and milestones."""
    return service.customer_stages(session, org_id, customer_id)


@router.get(
    "/stages",
    response_model=StagesOut,
    responses=error_responses(401, 422),
    description="Customers per stage at an instant (customers with events only).\n\n" + RULES_DOC,
)
def get_stages(
    org_id: OrgScope,
    session: SessionDep,
    as_of: Annotated[
        str | None, Query(max_length=40, description=f"The instant: {INSTANT_DOC}; default now")
    ] = None,
) -> StagesOut:
    """Customers per stage as of an instant."""
    return service.stages_as_of(session, org_id, as_of)


@router.get(
    "/stages/timeseries",
    response_model=StagesTimeseries,
    responses=error_responses(401, 422),
    description=(
        "Customers per stage at the end of each day, week (from Monday) or month, from the daily "
        "rollups: a period the range cuts short is counted at the range's last day (`partial`). "
        "Default: the 12 calendar months up to today. At most 3,660 points.\n\n" + RULES_DOC
    ),
)
def get_stages_timeseries(
    org_id: OrgScope,
    session: SessionDep,
    interval: Interval = Interval.month,
    start: Annotated[Day | None, Query(description="First UTC day (YYYY-MM-DD)")] = None,
    end: Annotated[Day | None, Query(description="Last UTC day (YYYY-MM-DD)")] = None,
) -> StagesTimeseries:
    """Customers per stage at the end of each period."""
    return service.timeseries(session, org_id, interval, start, end)


@router.get(
    "/funnel",
    response_model=FunnelOut,
    responses=error_responses(401, 422),
    description=(
        "Of the customers first seen (their first event, normally `signed_up`) in the UTC days "
        "`start` … `end`, how many became prospects and customers (within `within_days` of being "
        "first seen, when given), the conversion at each step, and the median and 90th "
        "percentile time to each step (seconds, interpolated). A customer who pays without "
        "choosing a plan first reached the prospect step when they paid. Default: the 90 days up "
        "to today.\n\n" + RULES_DOC
    ),
)
def get_funnel(
    org_id: OrgScope,
    session: SessionDep,
    start: Annotated[Day | None, Query(description="First UTC day of signups")] = None,
    end: Annotated[Day | None, Query(description="Last UTC day of signups")] = None,
    within_days: Annotated[
        int | None, Query(ge=0, le=3650, description="Count a step only this soon after signup")
    ] = None,
) -> FunnelOut:
    """Conversion from lead to prospect to customer, and the time each step takes."""
    return service.funnel(session, org_id, start, end, within_days)


@router.get(
    "/flows",
    response_model=FlowsOut,
    responses=error_responses(401, 422),
    description=(
        "Sankey links: every customer's stage at `start` (`new` when they had no event yet) → "
        "their stage at `end`, counted per pair. The nodes conserve customers: each side sums to "
        "`total`, the customers at `end`. Default: the 30 days up to now.\n\n" + RULES_DOC
    ),
)
def get_flows(
    org_id: OrgScope,
    session: SessionDep,
    start: Annotated[str | None, Query(max_length=40, description=f"From: {INSTANT_DOC}")] = None,
    end: Annotated[str | None, Query(max_length=40, description=f"To: {INSTANT_DOC}")] = None,
) -> FlowsOut:
    """Customers moving between stages from one instant to another."""
    return service.flows(session, org_id, start, end)


@router.get("/settings", response_model=JourneySettingsOut, responses=error_responses(401, 422))
def get_journey_settings(
    user: CurrentUser, org_id: OrgScope, session: SessionDep
) -> JourneySettingsOut:
    """The organisation's journey setting: `churn_after_days` (default 60)."""
    return service.get_settings(session, org_id)


@router.put(
    "/settings",
    response_model=JourneySettingsOut,
    responses=error_responses(401, 403, 422),
    description=(
        "Set after how many days (1–3650) without a successful payment a customer churns "
        "(admins). A change rebuilds every customer's stages and the rollups in a `journey` job "
        "(`rebuild_job_id`)."
    ),
)
def put_journey_settings(
    body: JourneySettingsUpdate, user: AdminUser, org_id: OrgScope, session: SessionDep
) -> JourneySettingsOut:
    """Set `churn_after_days` (admins)."""
    return service.update_settings(session, org_id, user, body.churn_after_days)
