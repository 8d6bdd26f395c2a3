"""HTTP routes of /api/v1/clv."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from spendlens.auth.dependencies import AnalystUser, CurrentOrg, CurrentUser, OrgScope
from spendlens.clv import service
from spendlens.clv.schemas import (
    ClvEstimateOut,
    ClvFitCreate,
    ClvFitOut,
    ClvFitSummaryOut,
    EstimateSort,
)
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/clv", tags=["clv"])


@router.post(
    "/fits",
    response_model=ClvFitOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(401, 403, 422),
)
def create_fit(
    body: ClvFitCreate,
    user: AnalystUser,
    org: CurrentOrg,
    session: SessionDep,
    response: Response,
) -> ClvFitOut:
    """Fit the BG/NBD and Gamma-Gamma models as a background job (analysts and admins).

    The fit uses the customers whose first purchase falls in [calibration_start,
    calibration_end] and their purchases up to calibration_end (base currency, one purchase per
    UTC day, times in weeks). With `holdout_end`, the predicted repeat purchases in
    (calibration_end, holdout_end] are compared with the actual ones. Then every customer gets
    expected purchases in the next `purchases_horizon_days`, P(alive), expected spend per
    purchase and CLV over `clv_horizon_days` (discounted monthly at `monthly_discount_rate`),
    from their purchases up to holdout_end (or calibration_end). Follow the fit (or its job at
    `/jobs/{job_id}`) until its state is `succeeded` or `failed`.
    """
    fit = service.create_fit(session, org, user, body)
    response.headers["Location"] = f"/api/v1/clv/fits/{fit.id}"
    return fit


@router.get("/fits", response_model=Page[ClvFitOut], responses=error_responses(401, 422))
def list_fits(
    user: CurrentUser, org_id: OrgScope, session: SessionDep, page: PaginationDep
) -> Page[ClvFitOut]:
    """The organisation's CLV fits, newest first."""
    items, total = service.list_fits(session, org_id, skip=page.skip, limit=page.limit)
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get("/fits/{fit_id}", response_model=ClvFitOut, responses=error_responses(401, 404, 422))
def get_fit(fit_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep) -> ClvFitOut:
    """One CLV fit: its state, parameters, log-likelihoods, convergence and holdout evaluation."""
    return service.get_fit(session, org_id, fit_id)


@router.get(
    "/fits/{fit_id}/estimates",
    response_model=Page[ClvEstimateOut],
    responses=error_responses(401, 404, 422),
)
def list_estimates(
    fit_id: int,
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    sort: Annotated[
        EstimateSort,
        Query(description="`clv`, `p_alive` or `expected_purchases`; a leading `-` descends"),
    ] = EstimateSort.clv_desc,
) -> Page[ClvEstimateOut]:
    """Every customer's estimates from one fit, with their names, sorted (default: top CLV)."""
    items, total = service.list_estimates(
        session, org_id, fit_id, sort=sort, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get(
    "/fits/{fit_id}/summary",
    response_model=ClvFitSummaryOut,
    responses=error_responses(401, 404, 409, 422),
)
def get_fit_summary(
    fit_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep
) -> ClvFitSummaryOut:
    """Aggregates of a fit's estimates for charts: the CLV distribution (round-width bins from 0
    up to the 99th percentile, then one open-ended bin) and mean P(alive) by recency (weeks
    since the last purchase) × frequency (repeat purchase days). 409 until the fit succeeded."""
    return service.fit_summary(session, org_id, fit_id)
