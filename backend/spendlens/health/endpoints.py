"""HTTP routes of /api/v1/health and /api/v1/customers/{customer_id}/health."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response, status

from spendlens.auth.dependencies import AdminUser, AnalystUser, CurrentOrg, CurrentUser, OrgScope
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.health import service
from spendlens.health.definitions import FORMULA_DOC, components_doc
from spendlens.health.schemas import (
    AtRiskSort,
    CustomerHealthOut,
    HealthOverview,
    HealthSettingsOut,
    HealthSettingsUpdate,
    RecomputeRequest,
)
from spendlens.jobs.schemas import JobOut
from spendlens.kit.pagination import PaginationDep

router = APIRouter(prefix="/health", tags=["health"])
customer_health_router = APIRouter(prefix="/customers", tags=["health"])

HEALTH_DOC = f"""
**Customer health** (0–100, higher is healthier), computed as of a UTC day D from the components
below, each normalised to 0–1. {FORMULA_DOC} A component without data for a customer is skipped
and the other weights renormalised; a customer with no weighted component at all is not scored.

{components_doc()}

Computed by a `health` job (`POST /api/v1/health/recompute`, nightly for the previous UTC day,
after imports and after event batches) and stored with history: one computation per day,
recomputing a day replaces it.
"""


@router.get(
    "",
    response_model=HealthOverview,
    responses=error_responses(401, 422),
    description=(
        "The latest computation: customers per band, a histogram of scores (10 bins of 10 "
        "points), and the at-risk list (bands `at_risk` and `critical`) with each customer's "
        "change since the previous computation, sorted by `score` (default, worst first), "
        "`change` or `name` (`-` descends; ties by customer id), paged. Before any "
        f"computation: zero counts and an empty list. Any role.\n\n{HEALTH_DOC}"
    ),
)
def get_health_overview(
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    sort: Annotated[
        AtRiskSort, Query(description="`score`, `change`, `name`; `-` for descending")
    ] = AtRiskSort.score_asc,
) -> HealthOverview:
    """Health distribution, customers per band and the at-risk list."""
    return service.overview(session, org_id, sort=sort, skip=page.skip, limit=page.limit)


@router.get(
    "/settings",
    response_model=HealthSettingsOut,
    responses=error_responses(401, 404, 422),
    description="The component weights and band thresholds (any role reads them; admins set "
    f"them).\n\n{HEALTH_DOC}",
)
def get_health_settings(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    version: Annotated[
        int | None,
        Query(ge=0, description="An earlier version (as recorded on a score); default current"),
    ] = None,
) -> HealthSettingsOut:
    """The health weights and bands: current, or an earlier version."""
    return service.get_settings(session, org_id, version=version)


@router.put(
    "/settings",
    response_model=HealthSettingsOut,
    responses=error_responses(401, 403, 422),
    description=(
        "Replace the weights and bands (admins). `weights`: component name → weight, each ≥ 0, "
        "summing to 1 (a component left out weighs 0; an unknown name is refused); `bands`: "
        "`healthy` and `at_risk` thresholds, 0 ≤ at_risk < healthy ≤ 100. Every change is a new "
        "version; stored scores keep theirs, the next recompute uses the new one."
        f"\n\n{HEALTH_DOC}"
    ),
)
def put_health_settings(
    body: HealthSettingsUpdate, user: AdminUser, org_id: OrgScope, session: SessionDep
) -> HealthSettingsOut:
    """Set the health weights and band thresholds (admins)."""
    return service.update_settings(session, org_id, user, body)


@router.post(
    "/recompute",
    response_model=JobOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 422),
    description=(
        "Queue a `health` job that computes every customer's health as of `as_of` (default "
        "today, UTC) with the current settings and stores it as that day's computation, "
        "replacing an earlier one of the day. Follow it at `GET /api/v1/jobs/{id}`."
    ),
)
def recompute_health(
    user: AnalystUser,
    org: CurrentOrg,
    session: SessionDep,
    response: Response,
    body: Annotated[RecomputeRequest | None, Body()] = None,
) -> JobOut:
    """Recompute every customer's health, as a background job (analysts and admins)."""
    job = service.request_recompute(session, org, user, body.as_of if body else None)
    response.headers["Location"] = f"/api/v1/jobs/{job.id}"
    return job


@customer_health_router.get(
    "/{customer_id}/health",
    response_model=CustomerHealthOut,
    responses=error_responses(401, 404, 422),
    description=(
        "The customer's score and band in the latest computation with its components (each "
        "`name`, `value`, `normalized`, `weight` applied, `configured_weight`, `contribution`; "
        "the contributions sum to the score), `settings_version`, `computed_at`, the stored "
        "`history` of the last 365 days (oldest first) and the `trend`: the least-squares "
        "slope in points per day over the stored scores of the 90 days up to the latest, and "
        "the fitted line 30 days on with a 95% OLS prediction interval "
        "(ŷ ± t₀.₉₇₅,ₙ₋₂ · s · √(1 + 1/n + (x₀ − x̄)²/Sxx)), clipped to 0–100. Before any "
        "computation, or for a customer the latest one did not score: `score: null`, "
        "`band: null`, no components. Another organisation's customer is 404. Any role."
        f"\n\n{HEALTH_DOC}"
    ),
)
def get_customer_health(
    customer_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep
) -> CustomerHealthOut:
    """One customer's health score, components, history and trend."""
    return service.customer_health(session, org_id, customer_id)
