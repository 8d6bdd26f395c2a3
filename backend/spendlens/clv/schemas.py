"""Bodies of the /clv routes, and the CLV block of a customer."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from spendlens.jobs.schemas import JobState
from spendlens.kit.money import Money
from spendlens.kit.dates import Day, UtcDatetime

HorizonDays = Annotated[int, Field(ge=1, le=3650)]


class ClvFitCreate(BaseModel):
    """What to fit on: the customers whose first purchase falls in the calibration window, their
    purchases up to its end, and optionally a holdout period right after it to check the fit."""

    model_config = ConfigDict(extra="forbid")

    calibration_start: Day = Field(description="First day of the calibration window (UTC)")
    calibration_end: Day = Field(description="Last day of the calibration window (UTC)")
    holdout_end: Day | None = Field(
        default=None,
        description="Last day of the holdout period (calibration_end, holdout_end]; none: no "
        "holdout evaluation",
    )
    purchases_horizon_days: HorizonDays = Field(
        default=90, description="Each customer's expected purchases are over this many days"
    )
    clv_horizon_days: HorizonDays = Field(
        default=365, description="Each customer's lifetime value is over this many days"
    )
    monthly_discount_rate: Annotated[Decimal, Field(ge=0, le=1, max_digits=5, decimal_places=4)] = (
        Field(default=Decimal("0"), description="Discount rate per month; 0: undiscounted")
    )


class FitReportOut(BaseModel):
    log_likelihood: float = Field(description="Log-likelihood at the estimate (natural log)")
    converged: bool
    iterations: int
    message: str = Field(description="The optimiser's last word")
    standard_errors: dict[str, float | None] = Field(
        description="From the observed information matrix; null where it is singular"
    )


class BgNbdOut(FitReportOut):
    """BG/NBD: purchase rate λ ~ Gamma(r, alpha) (alpha in `time_unit`s); dropout probability
    after each repeat purchase p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float


class GammaGammaOut(FitReportOut):
    """Gamma-Gamma: a purchase's value ~ Gamma(p, ν), ν ~ Gamma(q, v), fitted on repeat buyers."""

    p: float
    q: float
    v: float
    mean_spend: float | None = Field(
        description="Population mean spend per purchase p·v/(q−1); null when q ≤ 1"
    )
    frequency_spend_correlation: float | None = Field(
        description="Pearson correlation of x and m_x over repeat buyers: the model assumes "
        "spend does not depend on frequency, so this should be near 0"
    )


class HoldoutBin(BaseModel):
    frequency: str = Field(description="Repeat purchases in calibration: 0 … 6, or 7+")
    customers: int
    mean_predicted: float | None
    mean_actual: float | None


class HoldoutEvaluation(BaseModel):
    """Predicted E[Y(t) | x, t_x, T] against actual repeat purchases per customer of the
    calibration cohort in the holdout period."""

    holdout_start: date = Field(description="The day after calibration_end")
    holdout_end: date
    holdout_length: float = Field(description="In `time_unit`s")
    customers: int
    mae: float = Field(description="Mean absolute error per customer")
    rmse: float
    correlation: float | None = Field(description="Pearson; null when either side is constant")
    predicted_total: float
    actual_total: float
    aggregate_error: float | None = Field(
        description="(predicted_total − actual_total) / actual_total; null when actual is 0"
    )
    by_frequency: list[HoldoutBin]


class PAliveBin(BaseModel):
    low: float = Field(description="P(alive) from (inclusive)")
    high: float = Field(description="to (exclusive; the last bin includes 1)")
    customers: int


class ScoreSummary(BaseModel):
    """Totals over every customer's estimates from the fit."""

    customers: int
    expected_purchases_total: float = Field(description="In the purchases horizon")
    mean_p_alive: float
    clv_total: Money | None = Field(description="Sum of the customers' CLV (as stored, in cents)")
    clv_mean: Money | None
    p_alive_histogram: list[PAliveBin] = Field(description="Ten bins of width 0.1")


class ClvFitOut(BaseModel):
    id: int
    job_id: int
    state: JobState = Field(description="The fit's job: queued, running, succeeded, failed")
    error: str | None = Field(description="Why the fit failed")
    calibration_start: date
    calibration_end: date
    holdout_end: date | None
    purchases_horizon_days: int
    clv_horizon_days: int
    monthly_discount_rate: Decimal
    time_unit: str = Field(description="Unit of t_x, T, the horizons in the model and alpha")
    model_version: str
    currency: str | None = Field(description="The base currency the purchases were summed in")
    customers: int | None = Field(description="Customers fitted: first purchase in the window")
    repeat_buyers: int | None = Field(description="Of them, with x > 0 (the Gamma-Gamma's)")
    converged: bool | None = Field(description="Both models converged")
    bgnbd: BgNbdOut | None
    gamma_gamma: GammaGammaOut | None
    evaluation: HoldoutEvaluation | None = Field(description="Null without a holdout_end")
    warnings: list[str]
    scored_as_of: date | None = Field(
        description="Customers' estimates use their purchases up to this day: holdout_end, "
        "or calibration_end without a holdout"
    )
    scored_customers: int | None = Field(description="Customers with estimates")
    score_summary: ScoreSummary | None
    created_at: UtcDatetime
    fitted_at: UtcDatetime | None


class CustomerClv(BaseModel):
    """A customer's lifetime value figures from the organisation's latest fit."""

    model_config = ConfigDict(from_attributes=True)

    fit_id: int
    as_of: date = Field(description="Purchases up to this day were used")
    frequency: int = Field(description="x: repeat purchase days up to as_of")
    recency: float = Field(description="t_x, in weeks")
    age: float = Field(description="T, in weeks")
    p_alive: float = Field(description="Probability that the customer is still active")
    purchases_horizon_days: int
    expected_purchases: float = Field(description="Expected purchases in the purchases horizon")
    expected_spend: Money | None = Field(description="Expected spend per purchase")
    clv_horizon_days: int
    monthly_discount_rate: Decimal
    clv: Money | None = Field(description="Expected spend over the CLV horizon, discounted")


class EstimateSort(str, Enum):
    clv_desc = "-clv"
    clv_asc = "clv"
    p_alive_desc = "-p_alive"
    p_alive_asc = "p_alive"
    expected_purchases_desc = "-expected_purchases"
    expected_purchases_asc = "expected_purchases"


class ClvEstimateOut(BaseModel):
    """One customer's figures from a fit, as of the fit's `scored_as_of` (times in weeks)."""

    customer_id: int
    external_id: str | None
    name: str
    frequency: int = Field(description="x: repeat purchase days")
    recency: float = Field(description="t_x, in weeks")
    age: float = Field(description="T, in weeks")
    monetary: Money | None = Field(description="m_x: mean spend of the repeat purchase days")
    p_alive: float
    expected_purchases: float = Field(description="In the fit's purchases horizon")
    expected_spend: Money | None = Field(description="E[M | m_x, x], per purchase")
    clv: Money | None = Field(description="Over the fit's CLV horizon")


class ClvBin(BaseModel):
    low: Money = Field(description="CLV from (inclusive)")
    high: Money | None = Field(description="to (exclusive); null: the open-ended last bin")
    customers: int
    clv_total: Money = Field(description="Sum of the bin's customers' CLV")


class ClvDistribution(BaseModel):
    """Histogram of the customers' CLV. Money is skewed (a few customers are worth many times the
    median), so equal-width bins over the whole range would put nearly everyone in the first
    one: the bins have a round width (1, 2, 2.5 or 5 × 10^k) chosen so that about
    `target_bins` of them cover 0 to the `cap_quantile` quantile (`cap`), and one open-ended bin
    holds everyone from there up (left out when empty)."""

    customers: int = Field(description="Customers with a CLV")
    without_clv: int = Field(description="Customers whose CLV is null (Gamma-Gamma q ≤ 1)")
    clv_total: Money | None
    median: Money | None = Field(description="Discrete median (an actual customer's CLV)")
    maximum: Money | None
    cap_quantile: float
    cap: Money | None = Field(
        description="The cap_quantile quantile of CLV (discrete: the smallest CLV with at "
        "least that share of customers at or below it)"
    )
    bin_width: Money | None
    bins: list[ClvBin] = Field(description="From CLV 0 up; empty without customers with a CLV")


class PAliveCell(BaseModel):
    recency: str = Field(description="Label of the recency bucket")
    frequency: str = Field(description="Label of the frequency bucket")
    customers: int
    mean_p_alive: float | None = Field(description="Null when the cell has no customers")


class PAliveMatrix(BaseModel):
    """Mean P(alive) by recency × frequency, the empirical form of the classic BG/NBD
    "P(alive) against recency and frequency" plot. Recency here is the time from the
    customer's last purchase to the fit's `scored_as_of` (T − t_x, in whole days, bucketed in
    weeks); frequency is x, the repeat purchase days. Every cell of the grid is listed
    (recency-major, in bucket order), empty ones with customers 0."""

    recency_buckets: list[str] = Field(description="In order: most recent first")
    recency_edges_days: list[int] = Field(
        description="Lower bounds of the recency buckets, in days (each up to the next, "
        "exclusive; the last open-ended)"
    )
    frequency_buckets: list[str] = Field(description="In order: fewest purchases first")
    frequency_edges: list[int] = Field(
        description="Lower bounds of the frequency buckets (each up to the next, exclusive; "
        "the last open-ended)"
    )
    cells: list[PAliveCell]


class ClvFitSummaryOut(BaseModel):
    """Aggregates of a fit's estimates for charts: no need to page through every customer."""

    fit_id: int
    scored_as_of: date
    currency: str | None
    customers: int = Field(description="Customers with estimates")
    clv_distribution: ClvDistribution
    p_alive: PAliveMatrix
