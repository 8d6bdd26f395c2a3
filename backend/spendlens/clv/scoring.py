"""The CLV models on arrays (one element per customer): fitting BG/NBD and Gamma-Gamma to a cohort,
and scoring customers with the fitted models. What the figures mean is in spendlens.clv.job."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from spendlens.clv import model
from spendlens.kit.money import to_cents

MODEL_VERSION = "bgnbd-gg/1"
TIME_UNIT = "week"
DAYS_PER_UNIT = 7.0
MONTH_DAYS = 365.25 / 12


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


def weeks(days: np.ndarray) -> np.ndarray:
    return days / DAYS_PER_UNIT


def cents(value: float) -> str | None:
    return None if not np.isfinite(value) else f"{value:.2f}"


def summarise_scores(scores: Scores) -> dict[str, Any]:
    """Totals and the P(alive) histogram of a fit's estimates; money as strings, summed from
    the per-customer figures in cents exactly as stored."""
    n = int(scores.p_alive.size)
    counts, edges = np.histogram(scores.p_alive, bins=10, range=(0.0, 1.0))
    clv_total = clv_mean = None
    if scores.clv is not None and n:
        total = sum((Decimal(cents(v)) for v in scores.clv.tolist()), Decimal("0"))
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
