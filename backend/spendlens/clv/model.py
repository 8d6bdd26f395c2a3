"""Customer lifetime value models in numpy/scipy, no database: the BG/NBD model of repeat
purchases (Fader, Hardie and Lee 2005, "Counting Your Customers the Easy Way") and the Gamma-Gamma
model of spend per purchase (Fader, Hardie and Lee 2005, "RFM and CLV: Using Iso-Value Curves"),
both fitted by maximum likelihood, with the per-customer predictions and a simulator of each.

Per customer, over a calibration period (FHL's notation):
  x    frequency: the number of repeat purchases (purchase days after the first one),
  t_x  recency: the time of the last purchase, counted from the first one,
  T    age: the time from the first purchase to the end of the calibration period,
  m_x  the mean value of the x repeat purchases (Gamma-Gamma; repeat buyers only).
Times are in one unit throughout (Spendlens uses weeks, see spendlens.clv.service); `alpha` is in
that unit.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, special

FloatArray = NDArray[np.float64]

# Log-parameters are kept within these bounds: e^±12 is far outside any sensible estimate, and
# the bounds keep the optimiser away from overflow.
LOG_BOUND = 12.0
# Gradient of the mean log-likelihood (per customer, in log-parameters) below which a fit counts
# as converged even if the optimiser stopped for another reason (e.g. a flat line search).
GRADIENT_TOLERANCE = 1e-4


# --- parameters and results ---------------------------------------------------------------------


@dataclass(frozen=True)
class BgNbdParams:
    """BG/NBD: purchase rates λ ~ Gamma(shape r, rate alpha); dropout p ~ Beta(a, b)."""

    r: float
    alpha: float
    a: float
    b: float

    def as_array(self) -> FloatArray:
        return np.array([self.r, self.alpha, self.a, self.b], dtype=float)


@dataclass(frozen=True)
class GammaGammaParams:
    """Gamma-Gamma: a purchase's value ~ Gamma(shape p, rate ν) with ν ~ Gamma(shape q, rate v)."""

    p: float
    q: float
    v: float

    def as_array(self) -> FloatArray:
        return np.array([self.p, self.q, self.v], dtype=float)

    @property
    def mean_spend(self) -> float | None:
        """Population mean value of a purchase, p·v / (q − 1); None when q ≤ 1 (no finite mean)."""
        return self.p * self.v / (self.q - 1) if self.q > 1 else None


@dataclass(frozen=True)
class FitReport:
    """How a maximum-likelihood fit went: the log-likelihood at the estimate and convergence."""

    log_likelihood: float
    converged: bool
    iterations: int
    message: str
    # Standard errors from the inverse of the observed information (delta method from the
    # log-parameters); None where the information matrix is not invertible.
    standard_errors: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    report: FitReport


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    report: FitReport


def _arrays(*values: ArrayLike) -> tuple[FloatArray, ...]:
    return tuple(np.asarray(v, dtype=float) for v in values)


# --- BG/NBD -------------------------------------------------------------------------------------


def _bgnbd_terms(theta: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray):
    """FHL (2005) eq. 6 in Hardie's log form: ln L = A1 + A2 + ln(e^A3 + δ(x>0)·e^A4)."""
    r, alpha, a, b = np.exp(theta)
    repeat = x > 0
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * math.log(alpha)
    a2 = (
        special.gammaln(a + b)
        + special.gammaln(b + x)
        - special.gammaln(b)
        - special.gammaln(a + b + x)
    )
    a3 = -(r + x) * np.log(alpha + T)
    # x = 0 has no second term; b + x − 1 is only taken where x ≥ 1.
    a4 = np.where(
        repeat,
        math.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return (r, alpha, a, b), repeat, a1, a2, a3, a4


def bgnbd_log_likelihood(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """Each customer's BG/NBD log-likelihood of (x, t_x, T)."""
    x, t_x, T = _arrays(frequency, recency, age)
    theta = np.log(params.as_array())
    _, _, a1, a2, a3, a4 = _bgnbd_terms(theta, x, t_x, T)
    return a1 + a2 + np.logaddexp(a3, a4)


def _bgnbd_objective(
    theta: FloatArray, x: FloatArray, t_x: FloatArray, T: FloatArray
) -> tuple[float, FloatArray]:
    """Mean negative log-likelihood per customer and its gradient in the log-parameters."""
    (r, alpha, a, b), repeat, a1, a2, a3, a4 = _bgnbd_terms(theta, x, t_x, T)
    total = np.logaddexp(a3, a4)
    w3 = np.exp(a3 - total)  # shares of the two terms of the likelihood
    w4 = np.exp(a4 - total)
    psi = special.digamma
    d_r = psi(r + x) - psi(r) + math.log(alpha) - w3 * np.log(alpha + T)
    d_r -= np.where(repeat, w4 * np.log(alpha + t_x), 0.0)
    d_alpha = r / alpha - w3 * (r + x) / (alpha + T) - w4 * (r + x) / (alpha + t_x)
    d_a = psi(a + b) - psi(a + b + x) + w4 / a
    d_b = psi(a + b) + psi(b + x) - psi(b) - psi(a + b + x)
    d_b -= np.where(repeat, w4 / np.where(repeat, b + x - 1, 1.0), 0.0)
    ll = a1 + a2 + total
    gradient = np.array([d_r.mean() * r, d_alpha.mean() * alpha, d_a.mean() * a, d_b.mean() * b])
    return -float(ll.mean()), -gradient


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    *,
    start: BgNbdParams | None = None,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD parameters for customers' (x, t_x, T)."""
    x, t_x, T = _arrays(frequency, recency, age)
    if x.size == 0:
        raise ValueError("no customers to fit")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T) or np.any((x == 0) & (t_x != 0)):
        raise ValueError("need x ≥ 0, 0 ≤ t_x ≤ T, and t_x = 0 where x = 0")
    if start is None:
        # r = 1 and alpha matching the mean purchase rate of the customers; a = b = 1 is a
        # dropout probability spread evenly over (0, 1).
        rate = max(float(x.sum()) / max(float(T.sum()), 1e-9), 1e-6)
        start = BgNbdParams(1.0, 1.0 / rate, 1.0, 1.0)
    names = ("r", "alpha", "a", "b")
    theta, report = _maximise(_bgnbd_objective, np.log(start.as_array()), (x, t_x, T), names)
    return BgNbdFit(BgNbdParams(*np.exp(theta)), report)


def probability_alive(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """P(alive | x, t_x, T) = 1 / (1 + δ(x>0) · a/(b+x−1) · ((α+T)/(α+t_x))^(r+x)).

    FHL (2005) eq. 11 / Fader, Hardie and Lee's note "Computing P(alive) using the BG/NBD model".
    Under the BG/NBD a customer can only drop out right after a repeat purchase, so one without
    repeat purchases (x = 0) is alive with probability 1.
    """
    x, t_x, T = _arrays(frequency, recency, age)
    r, alpha, a, b = params.as_array()
    repeat = x > 0
    log_odds_dead = (
        math.log(a)
        - np.log(np.where(repeat, b + x - 1, 1.0))
        + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    )
    return np.where(repeat, special.expit(-log_odds_dead), 1.0)


def _growth_term(params: BgNbdParams, x: FloatArray, T: FloatArray, t: FloatArray) -> FloatArray:
    """(a+b+x−1)/(a−1) · [1 − ((α+T)/(α+T+t))^(r+x) · 2F1(r+x, b+x; a+b+x−1; z)], z = t/(α+T+t).

    Computed through Euler's transformation 2F1(A, B; C; z) = (1−z)^(C−A−B) 2F1(C−A, C−B; C; z),
    which turns the bracket into 1 − (1−z)^(a−1) · 2F1(a+b−1−r, a−1; a+b+x−1; z): the
    hypergeometric's first two parameters no longer grow with x, so its series converges fast and
    stays in range for heavy buyers, where the direct form overflows or loses its digits.
    """
    r, alpha, a, b = params.as_array()
    if abs(a - 1.0) < 1e-8:  # the formula's removable singularity at a = 1
        a = 1.0 + math.copysign(1e-8, a - 1.0)
    c = a + b + x - 1
    z = t / (alpha + T + t)
    bracket = 1.0 - np.exp((a - 1) * np.log1p(-z)) * special.hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * bracket


def conditional_expected_purchases(
    params: BgNbdParams,
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next `t` time units (FHL 2005 eq. 10),
    = P(alive | x, t_x, T) · (growth term above)."""
    x, t_x, T, tt = _arrays(frequency, recency, age, t)
    alive = probability_alive(params, x, t_x, T)
    return alive * _growth_term(params, x, T, np.broadcast_to(tt, x.shape))


def expected_purchases(params: BgNbdParams, t: ArrayLike) -> FloatArray:
    """E[X(t)]: expected repeat purchases of a new customer within `t` of the first purchase
    (FHL 2005 eq. 9): the conditional expectation at x = 0, T = 0."""
    tt = np.asarray(t, dtype=float)
    zeros = np.zeros_like(tt)
    return _growth_term(params, zeros, zeros, tt)


# --- Gamma-Gamma ----------------------------------------------------------------------------------


def _gamma_gamma_parts(theta: FloatArray, x: FloatArray, m: FloatArray):
    p, q, v = np.exp(theta)
    px = p * x
    ll = (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * math.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m)
    )
    return (p, q, v), ll


def gamma_gamma_log_likelihood(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """Each repeat buyer's log-likelihood of the mean value m_x of their x purchases:
    f(m_x | p, q, v, x) = Γ(px+q)/(Γ(px)Γ(q)) · v^q m_x^(px−1) x^(px) / (v + x·m_x)^(px+q)."""
    x, m = _arrays(frequency, monetary)
    return _gamma_gamma_parts(np.log(params.as_array()), x, m)[1]


def _gamma_gamma_objective(
    theta: FloatArray, x: FloatArray, m: FloatArray
) -> tuple[float, FloatArray]:
    (p, q, v), ll = _gamma_gamma_parts(theta, x, m)
    psi = special.digamma
    common = psi(p * x + q)
    d_p = x * (common - psi(p * x) + np.log(m) + np.log(x) - np.log(v + x * m))
    d_q = common - psi(q) + math.log(v) - np.log(v + x * m)
    d_v = q / v - (p * x + q) / (v + x * m)
    gradient = np.array([d_p.mean() * p, d_q.mean() * q, d_v.mean() * v])
    return -float(ll.mean()), -gradient


def fit_gamma_gamma(
    frequency: ArrayLike, monetary: ArrayLike, *, start: GammaGammaParams | None = None
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers' (x, m_x); x > 0, m_x > 0."""
    x, m = _arrays(frequency, monetary)
    if x.size == 0:
        raise ValueError("no repeat buyers to fit")
    if np.any(x <= 0) or np.any(m <= 0):
        raise ValueError("the Gamma-Gamma model takes repeat buyers (x > 0) with m_x > 0")
    if start is None:
        # q = 2 keeps the mean finite; v sets the mean purchase value p·v/(q−1) to the observed one.
        start = GammaGammaParams(1.0, 2.0, float(np.mean(m)))
    names = ("p", "q", "v")
    theta, report = _maximise(_gamma_gamma_objective, np.log(start.as_array()), (x, m), names)
    return GammaGammaFit(GammaGammaParams(*np.exp(theta)), report)


def conditional_expected_spend(
    params: GammaGammaParams, frequency: ArrayLike, monetary: ArrayLike
) -> FloatArray:
    """E[M | m_x, x] = p·(v + x·m_x) / (p·x + q − 1): a weighted mean of the population mean
    p·v/(q−1) and the customer's own m_x (FHL 2005 "RFM and CLV" eq. 5). For x = 0 it is the
    population mean. Needs q > 1."""
    x, m = _arrays(frequency, monetary)
    p, q, v = params.as_array()
    if q <= 1:
        raise ValueError("q ≤ 1: the Gamma-Gamma model has no finite mean spend")
    m = np.where(x > 0, m, 0.0)
    return p * (v + x * m) / (p * x + q - 1)


# --- lifetime value -------------------------------------------------------------------------------


def customer_lifetime_value(
    params: BgNbdParams,
    expected_spend: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    age: ArrayLike,
    *,
    horizon: float,
    period: float,
    discount_rate: float = 0.0,
) -> FloatArray:
    """Expected value of a customer's purchases within `horizon` (time units), discounted.

    CLV = Σ_k (E[Y(t_k) | x, t_x, T] − E[Y(t_{k−1}) | x, t_x, T]) · E[M | m_x, x] / (1 + d)^k,
    with t_k = min(k · period, horizon), k = 1 … ⌈horizon / period⌉ (the last period may be
    shorter), d the discount rate per period. With d = 0 this is E[Y(horizon)] · E[M].
    """
    spend = np.asarray(expected_spend, dtype=float)
    x, t_x, T = _arrays(frequency, recency, age)
    if discount_rate == 0.0:
        return conditional_expected_purchases(params, horizon, x, t_x, T) * spend
    periods = max(1, math.ceil(horizon / period - 1e-9))
    total = np.zeros_like(x)
    before = np.zeros_like(x)
    for k in range(1, periods + 1):
        upto = conditional_expected_purchases(params, min(k * period, horizon), x, t_x, T)
        total += (upto - before) / (1.0 + discount_rate) ** k
        before = upto
    return total * spend


# --- holdout evaluation ---------------------------------------------------------------------------

HOLDOUT_BINS = 8  # calibration frequency 0, 1, …, 6 and 7+


def evaluate_holdout(
    predicted: ArrayLike, actual: ArrayLike, frequency: ArrayLike
) -> dict[str, object]:
    """Predicted against actual repeat purchases per customer in a holdout period: mean absolute
    error, Pearson correlation, the totals and their relative error, and mean predicted and
    actual by calibration frequency (0 … 6, 7+), FHL (2005) figure 4."""
    pred, act, x = _arrays(predicted, actual, frequency)
    n = int(pred.size)
    if n == 0:
        raise ValueError("no customers to evaluate")
    correlation: float | None = None
    if n > 1 and np.std(pred) > 0 and np.std(act) > 0:
        correlation = float(np.corrcoef(pred, act)[0, 1])
    predicted_total = float(pred.sum())
    actual_total = float(act.sum())
    bins = []
    group = np.minimum(x, HOLDOUT_BINS - 1).astype(int)
    for k in range(HOLDOUT_BINS):
        members = group == k
        count = int(members.sum())
        bins.append(
            {
                "frequency": f"{k}+" if k == HOLDOUT_BINS - 1 else str(k),
                "customers": count,
                "mean_predicted": float(pred[members].mean()) if count else None,
                "mean_actual": float(act[members].mean()) if count else None,
            }
        )
    return {
        "customers": n,
        "mae": float(np.abs(pred - act).mean()),
        "rmse": float(np.sqrt(((pred - act) ** 2).mean())),
        "correlation": correlation,
        "predicted_total": predicted_total,
        "actual_total": actual_total,
        "aggregate_error": (
            (predicted_total - actual_total) / actual_total if actual_total > 0 else None
        ),
        "by_frequency": bins,
    }


# --- simulation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedPurchases:
    frequency: FloatArray  # x, repeat purchases in (0, T]
    recency: FloatArray  # t_x
    age: FloatArray  # T
    alive: NDArray[np.bool_]  # whether the customer is still active at T
    holdout_frequency: FloatArray  # purchases in (T, T + holdout]


def simulate_bgnbd(
    params: BgNbdParams,
    age: ArrayLike,
    rng: np.random.Generator,
    *,
    holdout: float = 0.0,
) -> SimulatedPurchases:
    """Customers drawn from the BG/NBD, one per element of `age` (their T).

    Each has a rate λ ~ Gamma(r, α) and a dropout probability p ~ Beta(a, b); while alive, their
    repeat purchases are a Poisson process of rate λ, and after each one they drop out with
    probability p, so they make J ~ Geometric(p) repeat purchases in all. With N Poisson arrivals
    in (0, T], x = min(N, J) and t_x is the x-th of N uniform arrival times.
    """
    T = np.asarray(age, dtype=float)
    n = T.size
    r, alpha, a, b = params.as_array()
    rate = rng.gamma(r, 1.0 / alpha, size=n)
    dropout = np.clip(rng.beta(a, b, size=n), 1e-12, 1.0)
    lifetime_purchases = rng.geometric(dropout)
    arrivals = rng.poisson(rate * T)
    x = np.minimum(arrivals, lifetime_purchases)
    # The x-th smallest of N uniforms on (0, T] is T · Beta(x, N − x + 1).
    repeat = x > 0
    t_x = np.zeros(n)
    t_x[repeat] = T[repeat] * rng.beta(x[repeat], arrivals[repeat] - x[repeat] + 1)
    alive = lifetime_purchases > arrivals
    later = np.zeros(n)
    if holdout > 0:
        more = rng.poisson(rate * holdout)
        later = np.where(alive, np.minimum(more, lifetime_purchases - arrivals), 0).astype(float)
    return SimulatedPurchases(x.astype(float), t_x, T, alive, later)


def simulate_gamma_gamma(
    params: GammaGammaParams, frequency: ArrayLike, rng: np.random.Generator
) -> FloatArray:
    """Mean purchase value m_x of each customer's x purchases under the Gamma-Gamma (NaN where
    x = 0): ν ~ Gamma(q, v), and the sum of x Gamma(p, ν) values is Gamma(p·x, ν)."""
    x = np.asarray(frequency, dtype=float)
    p, q, v = params.as_array()
    scale = 1.0 / rng.gamma(q, 1.0 / v, size=x.size)
    repeat = x > 0
    monetary = np.full(x.size, np.nan)
    monetary[repeat] = rng.gamma(p * x[repeat], scale[repeat]) / x[repeat]
    return monetary


# --- optimisation ---------------------------------------------------------------------------------

Objective = Callable[..., tuple[float, FloatArray]]


def _maximise(
    objective: Objective, theta0: FloatArray, data: tuple[FloatArray, ...], names: tuple[str, ...]
) -> tuple[FloatArray, FitReport]:
    """L-BFGS-B over the log-parameters with the analytic gradient; a second start from the
    first's end if it stopped short. Convergence means a (near) zero gradient off the bounds."""
    n = data[0].size
    bounds = [(-LOG_BOUND, LOG_BOUND)] * theta0.size
    theta0 = np.clip(theta0, -LOG_BOUND + 1, LOG_BOUND - 1)
    options = {"maxiter": 1000, "ftol": 1e-13, "gtol": 1e-9}
    result = optimize.minimize(
        objective, theta0, args=data, jac=True, method="L-BFGS-B", bounds=bounds, options=options
    )
    iterations = int(result.nit)
    if not _converged(result):
        again = optimize.minimize(
            objective, result.x, args=data, jac=True, method="L-BFGS-B", bounds=bounds,
            options=options,
        )  # fmt: skip
        iterations += int(again.nit)
        if again.fun <= result.fun:
            result = again
    theta = np.asarray(result.x, dtype=float)
    if not np.isfinite(result.fun) or not np.all(np.isfinite(theta)):
        raise ValueError(f"the likelihood could not be maximised: {result.message}")
    converged = _converged(result)
    message = str(result.message)
    at_bound = [name for name, value in zip(names, theta) if abs(value) >= LOG_BOUND - 1e-6]
    if at_bound:
        message = f"parameter(s) at the search bound: {', '.join(at_bound)}; {message}"
    report = FitReport(
        log_likelihood=-float(result.fun) * n,
        converged=converged,
        iterations=iterations,
        message=message,
        standard_errors=_standard_errors(objective, theta, data, names),
    )
    return theta, report


def _converged(result: optimize.OptimizeResult) -> bool:
    theta = np.asarray(result.x)
    off_bounds = bool(np.all(np.abs(theta) < LOG_BOUND - 1e-6))
    small_gradient = float(np.max(np.abs(result.jac))) < GRADIENT_TOLERANCE
    return off_bounds and np.isfinite(result.fun) and (bool(result.success) or small_gradient)


def _standard_errors(
    objective: Objective, theta: FloatArray, data: tuple[FloatArray, ...], names: tuple[str, ...]
) -> dict[str, float | None]:
    """From the Hessian of the total negative log-likelihood in log-parameters (central
    differences of the analytic gradient), by the delta method: se(θ) = θ · se(ln θ)."""
    n = data[0].size
    k = theta.size
    step = 1e-5
    hessian = np.empty((k, k))
    for i in range(k):
        shift = np.zeros(k)
        shift[i] = step
        hessian[i] = (objective(theta + shift, *data)[1] - objective(theta - shift, *data)[1]) / (
            2 * step
        )
    hessian = (hessian + hessian.T) / 2 * n
    try:
        covariance = np.linalg.inv(hessian)
    except np.linalg.LinAlgError:
        return {name: None for name in names}
    variances = np.diag(covariance)
    return {
        name: float(math.exp(value) * math.sqrt(var)) if var > 0 and np.isfinite(var) else None
        for name, value, var in zip(names, theta, variances)
    }
