"""Business rules of customer lifetime value: a fit is asked for in a request and computed by a
job (spendlens.clv.job, which says what every figure means), which writes its parameters,
evaluation and every customer's estimates in one transaction; requests read them back.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from spendlens.clv import repository, summary
from spendlens.clv.schemas import (
    ClvEstimateOut,
    ClvFitCreate,
    ClvFitOut,
    ClvFitSummaryOut,
    CustomerClv,
    EstimateSort,
)
from spendlens.clv.scoring import MODEL_VERSION, TIME_UNIT
from spendlens.errors import Conflict, NotFound, Unprocessable
from spendlens.jobs.registry import enqueue
from spendlens.kit.dates import today_utc
from spendlens.models import ClvFit, Job, Organization, User

JOB_KIND = "clv_fit"


# --- requests -------------------------------------------------------------------------------------


def _check_windows(body: ClvFitCreate, today: date) -> None:
    if body.calibration_end <= body.calibration_start:
        raise Unprocessable(
            "calibration_end must be after calibration_start", loc=("body", "calibration_end")
        )
    if body.holdout_end is not None and body.holdout_end <= body.calibration_end:
        raise Unprocessable(
            "holdout_end must be after calibration_end", loc=("body", "holdout_end")
        )
    for name in ("calibration_start", "calibration_end", "holdout_end"):
        value = getattr(body, name)
        if value is not None and value > today:
            raise Unprocessable(f"{name} is in the future (today is {today})", loc=("body", name))


def create_fit(
    session: Session,
    org: Organization,
    user: User | None,
    body: ClvFitCreate,
    *,
    today: date | None = None,
) -> ClvFitOut:
    """Record the fit and its job and queue the job, in the caller's transaction."""
    _check_windows(body, today or today_utc())
    job_id = enqueue(
        session.connection(),
        org.id,
        JOB_KIND,
        body.model_dump(mode="json"),
        created_by=user.id if user else None,
    )
    job = session.get(Job, (org.id, job_id))
    fit = ClvFit(
        org_id=org.id,
        job_id=job_id,
        calibration_start=body.calibration_start,
        calibration_end=body.calibration_end,
        holdout_end=body.holdout_end,
        purchases_horizon_days=body.purchases_horizon_days,
        clv_horizon_days=body.clv_horizon_days,
        monthly_discount_rate=body.monthly_discount_rate,
        time_unit=TIME_UNIT,
        model_version=MODEL_VERSION,
    )
    session.add(fit)
    session.flush()
    # Users see in the job's parameters which fit it computes.
    job.params = {**job.params, "fit_id": fit.id}
    session.flush()
    return to_out(fit, job.state, job.result)


def get_fit(session: Session, org_id: int, fit_id: int) -> ClvFitOut:
    found = repository.get(session, org_id, fit_id)
    if found is None:
        raise NotFound("CLV fit not found")
    return to_out(*found)


def list_fits(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[ClvFitOut], int]:
    rows, total = repository.list_page(session, org_id, skip=skip, limit=limit)
    return [to_out(*row) for row in rows], total


def to_out(fit: ClvFit, state: str, result: dict[str, Any] | None) -> ClvFitOut:
    params = fit.parameters or {}
    errors = fit.standard_errors or {}
    convergence = fit.convergence or {}
    bgnbd = gamma_gamma = None
    if params:
        bgnbd = {
            **{k: params[k] for k in ("r", "alpha", "a", "b")},
            **convergence["bgnbd"],
            "log_likelihood": fit.bgnbd_log_likelihood,
            "standard_errors": {k: errors.get(k) for k in ("r", "alpha", "a", "b")},
        }
        gamma_gamma = {
            **{k: params[k] for k in ("p", "q", "v")},
            **convergence["gamma_gamma"],
            "log_likelihood": fit.gamma_gamma_log_likelihood,
            "standard_errors": {k: errors.get(k) for k in ("p", "q", "v")},
        }
    error = result.get("error") if state == "failed" and result else None
    return ClvFitOut.model_validate(
        {
            "id": fit.id,
            "job_id": fit.job_id,
            "state": state,
            "error": error,
            "calibration_start": fit.calibration_start,
            "calibration_end": fit.calibration_end,
            "holdout_end": fit.holdout_end,
            "purchases_horizon_days": fit.purchases_horizon_days,
            "clv_horizon_days": fit.clv_horizon_days,
            "monthly_discount_rate": fit.monthly_discount_rate,
            "time_unit": fit.time_unit,
            "model_version": fit.model_version,
            "currency": fit.currency,
            "customers": fit.customers,
            "repeat_buyers": fit.repeat_buyers,
            "converged": fit.converged,
            "bgnbd": bgnbd,
            "gamma_gamma": gamma_gamma,
            "evaluation": fit.evaluation,
            "warnings": fit.warnings or [],
            "scored_as_of": fit.scored_as_of,
            "scored_customers": fit.scored_customers,
            "score_summary": fit.score_summary,
            "created_at": fit.created_at,
            "fitted_at": fit.fitted_at,
        }
    )


def list_estimates(
    session: Session, org_id: int, fit_id: int, *, sort: EstimateSort, skip: int, limit: int
) -> tuple[list[ClvEstimateOut], int]:
    if repository.get(session, org_id, fit_id) is None:
        raise NotFound("CLV fit not found")
    rows, total = repository.estimates_page(
        session, org_id, fit_id, sort=sort.value, skip=skip, limit=limit
    )
    return [ClvEstimateOut.model_validate(row) for row in rows], total


def fit_summary(session: Session, org_id: int, fit_id: int) -> ClvFitSummaryOut:
    """The CLV distribution and the P(alive) matrix of a succeeded fit's estimates (409 while it
    has none: queued, running or failed)."""
    found = repository.get(session, org_id, fit_id)
    if found is None:
        raise NotFound("CLV fit not found")
    fit, state, _ = found
    if state != "succeeded" or fit.scored_as_of is None:
        raise Conflict(f"The fit has no estimates yet: its state is {state}")
    return ClvFitSummaryOut.model_validate(
        {
            "fit_id": fit.id,
            "scored_as_of": fit.scored_as_of,
            "currency": fit.currency,
            "customers": fit.scored_customers or 0,
            "clv_distribution": summary.clv_distribution(session, org_id, fit_id),
            "p_alive": summary.p_alive_matrix(session, org_id, fit_id),
        }
    )


def customer_clv(session: Session, org_id: int, customer_id: int) -> CustomerClv | None:
    """The customer's figures from the latest fit; None without a fit or an estimate."""
    row = repository.customer_estimate(session, org_id, customer_id)
    if row is None:
        return None
    row["as_of"] = row.pop("scored_as_of")
    return CustomerClv.model_validate(row)
