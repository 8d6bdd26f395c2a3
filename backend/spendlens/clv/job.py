"""The CLV fit job: summarise purchases in SQL, fit both models, evaluate them on the holdout,
score every customer and write the fit and its estimates, all in one transaction.

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

from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, func

from spendlens.clv import model, repository
from spendlens.clv.scoring import (
    DAYS_PER_UNIT,
    FittedModels,
    Scores,
    cents,
    fit_models,
    score,
    summarise_scores,
    weeks,
)
from spendlens.clv.service import JOB_KIND
from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress

# Below these the job refuses to fit: the estimates would mean nothing.
MIN_CUSTOMERS = 20
MIN_REPEAT_BUYERS = 10
STEPS = 4  # summaries, fits, evaluation, estimates


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
            cents(m),
            repr(float(purchases)),
            repr(float(alive)),
            cents(s),
            cents(c),
        )
        for customer_id, x, t_x, T, m, purchases, alive, s, c in zip(
            summaries.customer_id.tolist(),
            summaries.frequency.tolist(),
            weeks(summaries.recency_days).tolist(),
            weeks(summaries.age_days).tolist(),
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


def _save(
    conn: Connection,
    job: JobRecord,
    fit_id: int,
    currency: str,
    models: FittedModels,
    evaluation: dict[str, Any] | None,
    scored_as_of: date,
    everyone: repository.PurchaseSummaries,
    scores: Scores,
) -> None:
    repository.copy_estimates(conn, job.org_id, fit_id, _estimate_rows(everyone, scores))
    bg, gg = models.bgnbd, models.gamma_gamma
    repository.save_fit(
        conn,
        job.org_id,
        fit_id,
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


@job_kind(JOB_KIND, task="clv.fit")
def execute_fit(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """The fit job: summarise in SQL, fit, evaluate on the holdout, score every customer, and
    write the fit and its estimates; one transaction."""
    fit = repository.fit_for_job(conn, job.org_id, job.id)
    if fit is None:
        return JobOutcome("failed", {"error": "The fit was deleted", "retryable": False})
    currency = repository.base_currency(conn, job.org_id)
    progress.set_total(STEPS)

    with progress.phase("summaries"):
        cohort = repository.purchase_summaries(
            conn,
            job.org_id,
            currency,
            first_from=fit.calibration_start,
            end=fit.calibration_end,
            holdout_end=fit.holdout_end,
        )
        x = cohort.frequency
        t_x, T = weeks(cohort.recency_days), weeks(cohort.age_days)
        repeat_buyers = int(((x > 0) & (cohort.monetary > 0)).sum())
    progress.advance(1)
    if len(cohort) < MIN_CUSTOMERS or repeat_buyers < MIN_REPEAT_BUYERS:
        return _refusal(
            fit.id,
            f"Too few customers to fit: {len(cohort)} with a first purchase in the calibration "
            f"window, {repeat_buyers} of them repeat buyers; at least {MIN_CUSTOMERS} and "
            f"{MIN_REPEAT_BUYERS} are needed",
        )

    with progress.phase("fit"):
        try:
            models = fit_models(x, t_x, T, cohort.monetary)
        except ValueError as exc:
            return _refusal(fit.id, f"The models could not be fitted to these data: {exc}")
    progress.advance(2)

    evaluation = None
    with progress.phase("evaluation"):
        if fit.holdout_end is not None:
            length = (fit.holdout_end - fit.calibration_end).days / DAYS_PER_UNIT
            predicted = model.conditional_expected_purchases(models.bgnbd.params, length, x, t_x, T)
            evaluation = {
                "holdout_start": (fit.calibration_end + timedelta(days=1)).isoformat(),
                "holdout_end": fit.holdout_end.isoformat(),
                "holdout_length": length,
                **model.evaluate_holdout(predicted, cohort.holdout_frequency, x),
            }
    progress.advance(3)

    with progress.phase("estimates"):
        scored_as_of = fit.holdout_end or fit.calibration_end
        everyone = repository.purchase_summaries(conn, job.org_id, currency, end=scored_as_of)
        scores = score(
            models,
            everyone.frequency,
            weeks(everyone.recency_days),
            weeks(everyone.age_days),
            everyone.monetary,
            purchases_horizon_days=fit.purchases_horizon_days,
            clv_horizon_days=fit.clv_horizon_days,
            monthly_discount_rate=float(fit.monthly_discount_rate),
        )
        if not scores.all_finite():
            return _refusal(fit.id, "The fitted models give non-finite estimates for these data")
        _save(conn, job, fit.id, currency, models, evaluation, scored_as_of, everyone, scores)
    progress.advance(4)
    return JobOutcome(
        "succeeded",
        {
            "fit_id": fit.id,
            "customers": models.customers,
            "repeat_buyers": models.repeat_buyers,
            "scored_customers": len(everyone),
            "converged": models.converged,
        },
    )
