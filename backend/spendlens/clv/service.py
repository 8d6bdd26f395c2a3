"""Business rules of customer lifetime value: a fit is asked for in a request and computed by a
job, which writes its parameters, evaluation and every customer's estimates in one transaction.

Conventions (what every figure means):
- Time is in weeks (days / 7) at day resolution; `alpha` and the fits' t_x, T are in weeks.
- A purchase is a transaction of kind `purchase` in the base currency; purchases on one UTC day
  are one purchase. x = purchase days − 1 within the window, t_x = last − first purchase day,
  T = calibration_end − first purchase day; m_x = the mean spend of the x repeat purchase days
  (the first purchase is left out, as in Fader, Hardie and Lee's "RFM and CLV").
- The fit uses the customers whose first purchase ever falls in [calibration_start,
  calibration_end], their purchases up to calibration_end. The holdout evaluation compares, for
  those customers, E[Y(t) | x, t_x, T] over the holdout (t = holdout_end − calibration_end)
  with the purchase days they actually had in (calibration_end, holdout_end].
- Estimates are made for every customer with a purchase by `scored_as_of` (holdout_end, else
  calibration_end), from all their purchases up to that day: expected purchases in the next
  `purchases_horizon_days`, P(alive), E[M | m_x, x], and
  CLV = Σ_k (E[Y(t_k)] − E[Y(t_{k−1})]) · E[M | m_x, x] / (1 + d)^k over months k of
  365.25/12 days covering `clv_horizon_days` (the last one possibly shorter), d the monthly
  discount rate; with d = 0 (the default), CLV = E[Y(horizon)] · E[M | m_x, x].
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import numpy as np
from sqlalchemy import Connection, func
from sqlalchemy.orm import Session

from spendlens.clv import model, repository
from spendlens.clv.schemas import (
    ClvEstimateOut,
    ClvFitCreate,
    ClvFitOut,
    ClvFitSummaryOut,
    CustomerClv,
    EstimateSort,
)
from spendlens.errors import Conflict, NotFound, Unprocessable
from spendlens.jobs.queue import defer_tracked_job
from spendlens.kit.dates import today_utc
from spendlens.kit.money import to_cents
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress
from spendlens.models import ClvFit, Job, Organization, User

JOB_KIND = "clv_fit"
MODEL_VERSION = "bgnbd-gg/1"
TIME_UNIT = "week"
DAYS_PER_UNIT = 7.0
MONTH_DAYS = 365.25 / 12
# Below these the job refuses to fit: the estimates would mean nothing.
MIN_CUSTOMERS = 20
MIN_REPEAT_BUYERS = 10
STEPS = 4  # summaries, fits, evaluation, estimates


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
    job = Job(
        org_id=org.id,
        kind=JOB_KIND,
        params=body.model_dump(mode="json"),
        created_by=user.id if user else None,
    )
    session.add(job)
    session.flush()
    fit = ClvFit(
        org_id=org.id,
        job_id=job.id,
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
    job.params = {**job.params, "fit_id": fit.id}
    job.queue_job_id = defer_tracked_job(session.connection(), JOB_KIND, org.id, job.id)
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


# Aggregates of a fit's estimates (GET /clv/fits/{id}/summary), see ClvDistribution and
# PAliveMatrix in schemas for what they mean.
CAP_QUANTILE = 0.99
TARGET_BINS = 20
NICE_STEPS = (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5))
RECENCY_BUCKETS = (
    (0, "< 1 wk"),
    (7, "1–4 wk"),
    (28, "4–8 wk"),
    (56, "8–13 wk"),
    (91, "13–26 wk"),
    (182, "26–52 wk"),
    (364, "52–104 wk"),
    (728, "104+ wk"),
)
FREQUENCY_BUCKETS = (
    (0, "0"),
    (1, "1"),
    (2, "2"),
    (3, "3–4"),
    (5, "5–9"),
    (10, "10–19"),
    (20, "20–49"),
    (50, "50–99"),
    (100, "100–199"),
    (200, "200+"),
)


def nice_width(span: Decimal, target_bins: int = TARGET_BINS) -> Decimal:
    """The smallest round width (1, 2, 2.5 or 5 × 10^k, at least a cent) with which
    `target_bins` bins cover `span`."""
    raw = span / target_bins
    if raw <= Decimal("0.01"):
        return Decimal("0.01")
    exponent = raw.adjusted()  # raw = d.ddd × 10^exponent
    for power in (exponent, exponent + 1):
        for step in NICE_STEPS:
            width = step.scaleb(power)
            if width >= raw:
                return width
    raise AssertionError("unreachable")  # pragma: no cover


def _clv_distribution(session: Session, org_id: int, fit_id: int) -> dict[str, Any]:
    stats = repository.clv_statistics(session, org_id, fit_id, CAP_QUANTILE)
    out: dict[str, Any] = {
        "customers": stats.customers,
        "without_clv": stats.without_clv,
        "clv_total": stats.total,
        "median": stats.median,
        "maximum": stats.maximum,
        "cap_quantile": CAP_QUANTILE,
        "cap": stats.cap,
        "bin_width": None,
        "bins": [],
    }
    if not stats.customers:
        return out
    # Everyone at 0 up to the quantile: spread the bins up to the maximum instead.
    span = stats.cap if stats.cap > 0 else stats.maximum
    width = nice_width(span)
    # Enough regular bins to reach the cap (Decimal's // truncates: round up explicitly).
    regular = max(1, int((span / width).to_integral_value(rounding=ROUND_CEILING)))
    counts = repository.clv_bins(session, org_id, fit_id, width=width, bins=regular)
    bins = []
    for k in range(regular + 1):
        customers, total = counts.get(k, (0, Decimal(0)))
        if k == regular and not customers:
            break  # no one above the regular bins
        bins.append(
            {
                "low": width * k,
                "high": width * (k + 1) if k < regular else None,
                "customers": customers,
                "clv_total": total,
            }
        )
    out.update(bin_width=width, bins=bins)
    return out


def _p_alive_matrix(session: Session, org_id: int, fit_id: int) -> dict[str, Any]:
    cells = repository.p_alive_cells(
        session,
        org_id,
        fit_id,
        recency_edges_days=[edge for edge, _ in RECENCY_BUCKETS],
        frequency_edges=[edge for edge, _ in FREQUENCY_BUCKETS],
    )
    return {
        "recency_buckets": [label for _, label in RECENCY_BUCKETS],
        "recency_edges_days": [edge for edge, _ in RECENCY_BUCKETS],
        "frequency_buckets": [label for _, label in FREQUENCY_BUCKETS],
        "frequency_edges": [edge for edge, _ in FREQUENCY_BUCKETS],
        "cells": [
            {
                "recency": r_label,
                "frequency": f_label,
                "customers": cells.get((r, f), (0, None))[0],
                "mean_p_alive": cells.get((r, f), (0, None))[1],
            }
            for r, (_, r_label) in enumerate(RECENCY_BUCKETS)
            for f, (_, f_label) in enumerate(FREQUENCY_BUCKETS)
        ],
    }


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
            "clv_distribution": _clv_distribution(session, org_id, fit_id),
            "p_alive": _p_alive_matrix(session, org_id, fit_id),
        }
    )


def customer_clv(session: Session, org_id: int, customer_id: int) -> CustomerClv | None:
    """The customer's figures from the latest fit; None without a fit or an estimate."""
    row = repository.customer_estimate(session, org_id, customer_id)
    if row is None:
        return None
    row["as_of"] = row.pop("scored_as_of")
    return CustomerClv.model_validate(row)


# --- the models, on arrays ------------------------------------------------------------------------


@dataclass(frozen=True)
class FittedModels:
    bgnbd: model.BgNbdFit
    gamma_gamma: model.GammaGammaFit
    customers: int
    repeat_buyers: int
    frequency_spend_correlation: float | None
    warnings: list[str]

    @property
    def converged(self) -> bool:
        return self.bgnbd.report.converged and self.gamma_gamma.report.converged


def fit_models(
    frequency: np.ndarray, recency: np.ndarray, age: np.ndarray, monetary: np.ndarray
) -> FittedModels:
    """Both models on one cohort (times in weeks; monetary NaN where x = 0)."""
    bgnbd = model.fit_bgnbd(frequency, recency, age)
    repeat = (frequency > 0) & (monetary > 0)
    gamma_gamma = model.fit_gamma_gamma(frequency[repeat], monetary[repeat])
    correlation = None
    if repeat.sum() > 2 and np.std(frequency[repeat]) > 0 and np.std(monetary[repeat]) > 0:
        correlation = float(np.corrcoef(frequency[repeat], monetary[repeat])[0, 1])
    warnings = []
    for name, fit in (("BG/NBD", bgnbd), ("Gamma-Gamma", gamma_gamma)):
        if not fit.report.converged:
            warnings.append(f"The {name} fit did not converge: {fit.report.message}")
    if gamma_gamma.params.mean_spend is None:
        warnings.append(
            "The Gamma-Gamma q is at most 1, so spend per purchase has no finite mean: "
            "expected spend and CLV are left empty"
        )
    if correlation is not None and abs(correlation) > 0.3:
        warnings.append(
            f"Frequency and spend per purchase are correlated ({correlation:.2f}); the "
            "Gamma-Gamma model assumes they are independent"
        )
    return FittedModels(
        bgnbd, gamma_gamma, int(frequency.size), int(repeat.sum()), correlation, warnings
    )


@dataclass(frozen=True)
class Scores:
    expected_purchases: np.ndarray
    p_alive: np.ndarray
    expected_spend: np.ndarray | None  # None when the Gamma-Gamma has no finite mean
    clv: np.ndarray | None

    def all_finite(self) -> bool:
        arrays = (self.expected_purchases, self.p_alive, self.expected_spend, self.clv)
        return all(a is None or bool(np.all(np.isfinite(a))) for a in arrays)


def score(
    models: FittedModels,
    frequency: np.ndarray,
    recency: np.ndarray,
    age: np.ndarray,
    monetary: np.ndarray,
    *,
    purchases_horizon_days: int,
    clv_horizon_days: int,
    monthly_discount_rate: float,
) -> Scores:
    """Every customer's estimates (times in weeks; monetary NaN where x = 0)."""
    bg = models.bgnbd.params
    # Rounding can leave −1e-17 where the expectation is 0.
    purchases = np.maximum(
        model.conditional_expected_purchases(
            bg, purchases_horizon_days / DAYS_PER_UNIT, frequency, recency, age
        ),
        0.0,
    )
    alive = model.probability_alive(bg, frequency, recency, age)
    if models.gamma_gamma.params.mean_spend is None:
        return Scores(purchases, alive, None, None)
    spend = model.conditional_expected_spend(
        models.gamma_gamma.params, frequency, np.nan_to_num(monetary)
    )
    value = model.customer_lifetime_value(
        bg,
        spend,
        frequency,
        recency,
        age,
        horizon=clv_horizon_days / DAYS_PER_UNIT,
        period=MONTH_DAYS / DAYS_PER_UNIT,
        discount_rate=monthly_discount_rate,
    )
    return Scores(purchases, alive, spend, np.maximum(value, 0.0))


# --- the job --------------------------------------------------------------------------------------


def _weeks(days: np.ndarray) -> np.ndarray:
    return days / DAYS_PER_UNIT


def _cents(value: float) -> str | None:
    return None if not np.isfinite(value) else f"{value:.2f}"


def summarise_scores(scores: Scores) -> dict[str, Any]:
    """Totals and the P(alive) histogram of a fit's estimates; money as strings, summed from
    the per-customer figures in cents exactly as stored."""
    n = int(scores.p_alive.size)
    counts, edges = np.histogram(scores.p_alive, bins=10, range=(0.0, 1.0))
    clv_total = clv_mean = None
    if scores.clv is not None and n:
        total = sum((Decimal(_cents(v)) for v in scores.clv.tolist()), Decimal("0"))
        clv_total, clv_mean = str(total), str(to_cents(total / n))
    return {
        "customers": n,
        "expected_purchases_total": float(scores.expected_purchases.sum()),
        "mean_p_alive": float(scores.p_alive.mean()) if n else 0.0,
        "clv_total": clv_total,
        "clv_mean": clv_mean,
        "p_alive_histogram": [
            {"low": round(float(lo), 1), "high": round(float(hi), 1), "customers": int(c)}
            for lo, hi, c in zip(edges[:-1], edges[1:], counts)
        ],
    }


def _estimate_rows(summaries: repository.PurchaseSummaries, scores: Scores) -> list[tuple]:
    n = len(summaries)
    spend = scores.expected_spend if scores.expected_spend is not None else np.full(n, np.nan)
    value = scores.clv if scores.clv is not None else np.full(n, np.nan)
    return [
        (
            int(customer_id),
            int(x),
            repr(float(t_x)),
            repr(float(T)),
            _cents(m),
            repr(float(purchases)),
            repr(float(alive)),
            _cents(s),
            _cents(c),
        )
        for customer_id, x, t_x, T, m, purchases, alive, s, c in zip(
            summaries.customer_id.tolist(),
            summaries.frequency.tolist(),
            _weeks(summaries.recency_days).tolist(),
            _weeks(summaries.age_days).tolist(),
            summaries.monetary.tolist(),
            scores.expected_purchases.tolist(),
            scores.p_alive.tolist(),
            spend.tolist(),
            value.tolist(),
        )
    ]


def _report(fit: model.BgNbdFit | model.GammaGammaFit) -> dict[str, Any]:
    report = fit.report
    return {
        "converged": report.converged,
        "iterations": report.iterations,
        "message": report.message,
    }


def _refusal(fit_id: int, message: str) -> JobOutcome:
    return JobOutcome("failed", {"fit_id": fit_id, "error": message, "retryable": False})


def execute_fit(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """The fit job: summarise in SQL, fit, evaluate on the holdout, score every customer, and
    write the fit and its estimates; one transaction."""
    fit = repository.fit_for_job(conn, job.org_id, job.id)
    if fit is None:
        return JobOutcome("failed", {"error": "The fit was deleted", "retryable": False})
    currency = repository.base_currency(conn, job.org_id)
    progress.set_total(STEPS)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(phase: str, step: int) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[phase] = round(now - clock, 3)
        clock = now
        progress.advance(step)

    cohort = repository.purchase_summaries(
        conn,
        job.org_id,
        currency,
        first_from=fit.calibration_start,
        end=fit.calibration_end,
        holdout_end=fit.holdout_end,
    )
    x = cohort.frequency
    t_x, T = _weeks(cohort.recency_days), _weeks(cohort.age_days)
    repeat_buyers = int(((x > 0) & (cohort.monetary > 0)).sum())
    lap("summaries", 1)
    if len(cohort) < MIN_CUSTOMERS or repeat_buyers < MIN_REPEAT_BUYERS:
        return _refusal(
            fit.id,
            f"Too few customers to fit: {len(cohort)} with a first purchase in the calibration "
            f"window, {repeat_buyers} of them repeat buyers; at least {MIN_CUSTOMERS} and "
            f"{MIN_REPEAT_BUYERS} are needed",
        )
    try:
        models = fit_models(x, t_x, T, cohort.monetary)
    except ValueError as exc:
        return _refusal(fit.id, f"The models could not be fitted to these data: {exc}")
    lap("fit", 2)

    evaluation = None
    if fit.holdout_end is not None:
        length = (fit.holdout_end - fit.calibration_end).days / DAYS_PER_UNIT
        predicted = model.conditional_expected_purchases(models.bgnbd.params, length, x, t_x, T)
        evaluation = {
            "holdout_start": (fit.calibration_end + timedelta(days=1)).isoformat(),
            "holdout_end": fit.holdout_end.isoformat(),
            "holdout_length": length,
            **model.evaluate_holdout(predicted, cohort.holdout_frequency, x),
        }
    lap("evaluation", 3)

    scored_as_of = fit.holdout_end or fit.calibration_end
    everyone = repository.purchase_summaries(conn, job.org_id, currency, end=scored_as_of)
    scores = score(
        models,
        everyone.frequency,
        _weeks(everyone.recency_days),
        _weeks(everyone.age_days),
        everyone.monetary,
        purchases_horizon_days=fit.purchases_horizon_days,
        clv_horizon_days=fit.clv_horizon_days,
        monthly_discount_rate=float(fit.monthly_discount_rate),
    )
    if not scores.all_finite():
        return _refusal(fit.id, "The fitted models give non-finite estimates for these data")
    repository.copy_estimates(conn, job.org_id, fit.id, _estimate_rows(everyone, scores))
    bg, gg = models.bgnbd, models.gamma_gamma
    repository.save_fit(
        conn,
        job.org_id,
        fit.id,
        currency=currency,
        customers=models.customers,
        repeat_buyers=models.repeat_buyers,
        parameters={
            **{k: float(v) for k, v in vars(bg.params).items()},
            **{k: float(v) for k, v in vars(gg.params).items()},
        },
        standard_errors={**bg.report.standard_errors, **gg.report.standard_errors},
        bgnbd_log_likelihood=bg.report.log_likelihood,
        gamma_gamma_log_likelihood=gg.report.log_likelihood,
        converged=models.converged,
        convergence={
            "bgnbd": _report(bg),
            "gamma_gamma": {
                **_report(gg),
                "mean_spend": gg.params.mean_spend,
                "frequency_spend_correlation": models.frequency_spend_correlation,
            },
        },
        evaluation=evaluation,
        warnings=models.warnings,
        scored_as_of=scored_as_of,
        scored_customers=len(everyone),
        score_summary=summarise_scores(scores),
        fitted_at=func.clock_timestamp(),
    )
    lap("estimates", 4)
    return JobOutcome(
        "succeeded",
        {
            "fit_id": fit.id,
            "customers": models.customers,
            "repeat_buyers": models.repeat_buyers,
            "scored_customers": len(everyone),
            "converged": models.converged,
            "seconds": seconds,
        },
    )
