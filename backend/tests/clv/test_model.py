"""The CLV models without a database: the fitters recover known parameters from data simulated
from the models, and the predictions (E[Y(t) | x, t_x, T], P(alive), E[M | m_x, x], E[X(t)])
agree with the closed forms, their limiting cases and Monte Carlo simulation.

Recovery tolerance (stated in the fit's report too): with 100,000 simulated customers (fixed
seed), every BG/NBD and Gamma-Gamma parameter is within 10% of the truth and within 4 of its
own standard errors.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, special

from spendlens.clv import model

# Fader, Hardie and Lee's CDNOW estimates (weeks; 78-week calibration, cohort acquired in the
# first 12 weeks) and their Gamma-Gamma estimates from "RFM and CLV".
CDNOW = model.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_SPEND = model.GammaGammaParams(p=6.25, q=3.74, v=15.44)
CUSTOMERS = 100_000
RELATIVE_TOLERANCE = 0.10
STANDARD_ERRORS = 4.0
HOLDOUT_WEEKS = 39.0


@pytest.fixture(scope="module")
def simulated() -> model.SimulatedPurchases:
    rng = np.random.default_rng(20050101)
    age = 78.0 - rng.uniform(0, 12, CUSTOMERS)
    return model.simulate_bgnbd(CDNOW, age, rng, holdout=HOLDOUT_WEEKS)


@pytest.fixture(scope="module")
def simulated_spend(simulated) -> np.ndarray:
    return model.simulate_gamma_gamma(CDNOW_SPEND, simulated.frequency, np.random.default_rng(5))


def assert_recovered(estimate, truth, report: model.FitReport) -> None:
    assert report.converged, report.message
    for name, true_value in vars(truth).items():
        value = getattr(estimate, name)
        error = abs(value - true_value)
        assert error <= RELATIVE_TOLERANCE * true_value, (name, value, true_value)
        assert error <= STANDARD_ERRORS * report.standard_errors[name], (
            name,
            value,
            true_value,
            report.standard_errors[name],
        )


class TestBgNbdFit:
    def test_recovers_the_cdnow_parameters_from_simulated_customers(self, simulated):
        fit = model.fit_bgnbd(simulated.frequency, simulated.recency, simulated.age)
        assert_recovered(fit.params, CDNOW, fit.report)
        # The maximum is a maximum: the truth is no more likely than the estimate.
        at_truth = model.bgnbd_log_likelihood(
            CDNOW, simulated.frequency, simulated.recency, simulated.age
        ).sum()
        assert fit.report.log_likelihood >= at_truth
        assert fit.report.log_likelihood == pytest.approx(
            model.bgnbd_log_likelihood(
                fit.params, simulated.frequency, simulated.recency, simulated.age
            ).sum()
        )

    def test_recovers_other_parameters_from_any_starting_point(self):
        truth = model.BgNbdParams(r=1.5, alpha=12.0, a=2.5, b=6.0)
        rng = np.random.default_rng(11)
        data = model.simulate_bgnbd(truth, rng.uniform(20, 104, 50_000), rng)
        start = model.BgNbdParams(0.1, 100.0, 0.3, 30.0)
        fit = model.fit_bgnbd(data.frequency, data.recency, data.age, start=start)
        assert_recovered(fit.params, truth, fit.report)

    def test_analytic_gradient_matches_finite_differences(self, simulated):
        data = (simulated.frequency[:5000], simulated.recency[:5000], simulated.age[:5000])
        for theta in (np.log(CDNOW.as_array()), np.array([0.3, -1.0, 1.2, 0.1])):
            error = optimize.check_grad(
                lambda th: model._bgnbd_objective(th, *data)[0],
                lambda th: model._bgnbd_objective(th, *data)[1],
                theta,
            )
            assert error < 1e-5

    def test_likelihood_of_a_customer_without_repeat_purchases(self):
        # x = 0: L = B(a, b)/B(a, b) · (α/(α+T))^r = (α/(α+T))^r, by eq. 6 with the δ term gone.
        ll = model.bgnbd_log_likelihood(CDNOW, [0], [0], [30.0])
        assert ll[0] == pytest.approx(CDNOW.r * np.log(CDNOW.alpha / (CDNOW.alpha + 30.0)))

    def test_bad_input_is_refused(self):
        with pytest.raises(ValueError):
            model.fit_bgnbd([], [], [])
        with pytest.raises(ValueError):
            model.fit_bgnbd([1, 2], [5, 40], [30, 30])  # t_x > T


class TestGammaGammaFit:
    def test_recovers_the_cdnow_parameters_from_simulated_repeat_buyers(
        self, simulated, simulated_spend
    ):
        repeat = simulated.frequency > 0
        assert repeat.sum() > 40_000
        fit = model.fit_gamma_gamma(simulated.frequency[repeat], simulated_spend[repeat])
        assert_recovered(fit.params, CDNOW_SPEND, fit.report)

    def test_analytic_gradient_matches_finite_differences(self, simulated, simulated_spend):
        repeat = simulated.frequency > 0
        x, m = simulated.frequency[repeat][:5000], simulated_spend[repeat][:5000]
        error = optimize.check_grad(
            lambda th: model._gamma_gamma_objective(th, x, m)[0],
            lambda th: model._gamma_gamma_objective(th, x, m)[1],
            np.log(CDNOW_SPEND.as_array()),
        )
        assert error < 1e-5

    def test_refuses_customers_without_repeat_purchases(self):
        with pytest.raises(ValueError):
            model.fit_gamma_gamma([0, 2], [10.0, 12.0])


def direct_conditional_expectation(params, t, x, t_x, T):
    """FHL (2005) eq. 10 exactly as printed (fine for small x, overflows for heavy buyers)."""
    r, alpha, a, b = params.as_array()
    z = t / (alpha + T + t)
    growth = (a + b + x - 1) / (a - 1)
    growth *= 1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * special.hyp2f1(
        r + x, b + x, a + b + x - 1, z
    )
    odds = np.where(
        x > 0, a / np.maximum(b + x - 1, 1e-300) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0
    )
    return growth / (1 + odds)


class TestPredictions:
    def test_conditional_expectation_equals_the_printed_formula(self):
        x = np.array([0, 1, 2, 3, 5, 8, 12, 20], dtype=float)
        t_x = np.array([0, 10, 30, 50, 60, 70, 75, 77], dtype=float)
        T = np.full_like(x, 78.0)
        for params in (CDNOW, model.BgNbdParams(1.2, 6.0, 3.5, 4.0)):
            for t in (1.0, 39.0, 150.0):
                ours = model.conditional_expected_purchases(params, t, x, t_x, T)
                assert ours == pytest.approx(
                    direct_conditional_expectation(params, t, x, t_x, T), rel=1e-9
                )

    def test_heavy_buyers_stay_finite_where_the_printed_formula_breaks_down(self):
        x, t_x, T = np.full(3, 300.0), np.full(3, 77.9), np.full(3, 78.0)
        t = np.array([0.001, 100.0, 1000.0])
        with np.errstate(all="ignore"):
            assert np.isnan(direct_conditional_expectation(CDNOW, t[2], x, t_x, T)[0])
        ours = model.conditional_expected_purchases(CDNOW, t, x, t_x, T)
        assert np.all(np.isfinite(ours)) and np.all(np.diff(ours) > 0)
        # Given alive, λ ~ Gamma(r + x, α + T): without dropout they would buy (r+x)/(α+T) · t;
        # dropout only takes purchases away, and over a short t there is no time for it.
        ceiling = model.probability_alive(CDNOW, x, t_x, T) * (CDNOW.r + x) / (CDNOW.alpha + T) * t
        assert np.all(ours <= ceiling)
        assert ours[0] == pytest.approx(ceiling[0], rel=1e-3)

    def test_without_dropout_it_is_the_nbd_conditional_expectation(self):
        # b → ∞ makes p → 0: nobody drops out, and E[Y(t) | x, T] = (r + x)/(α + T) · t.
        params = model.BgNbdParams(0.5, 2.0, 1.5, 1e9)
        x = np.array([0.0, 3.0, 50.0, 500.0])
        t_x, T = np.array([0.0, 20.0, 90.0, 99.0]), np.full(4, 100.0)
        expected = (params.r + x) / (params.alpha + T) * 13.0
        ours = model.conditional_expected_purchases(params, 13.0, x, t_x, T)
        assert ours == pytest.approx(expected, rel=1e-5)
        assert model.probability_alive(params, x, t_x, T) == pytest.approx(1.0, abs=1e-6)

    def test_a_customer_without_repeat_purchases_is_alive(self):
        assert model.probability_alive(CDNOW, [0, 0], [0, 0], [1.0, 78.0]).tolist() == [1.0, 1.0]

    def test_p_alive_falls_the_longer_a_frequent_buyer_is_silent(self):
        t_x = np.array([77.0, 60.0, 40.0, 20.0])
        alive = model.probability_alive(CDNOW, np.full(4, 10.0), t_x, np.full(4, 78.0))
        assert np.all(np.diff(alive) < 0) and alive[0] > 0.9

    def test_unconditional_expectation_matches_simulation(self):
        rng = np.random.default_rng(3)
        for t in (13.0, 52.0):
            data = model.simulate_bgnbd(CDNOW, np.full(400_000, t), rng)
            se = data.frequency.std() / np.sqrt(data.frequency.size)
            assert abs(model.expected_purchases(CDNOW, t) - data.frequency.mean()) < 4 * se

    def test_conditional_expectation_and_p_alive_match_simulation(self, simulated):
        """Grouped by calibration frequency, the mean of E[Y(39) | x, t_x, T] is the mean of the
        simulated holdout purchases, and the mean P(alive) the share actually alive."""
        x, t_x, T = simulated.frequency, simulated.recency, simulated.age
        predicted = model.conditional_expected_purchases(CDNOW, HOLDOUT_WEEKS, x, t_x, T)
        alive = model.probability_alive(CDNOW, x, t_x, T)
        groups = np.minimum(x, 10)
        for k in np.unique(groups):
            members = groups == k
            n = members.sum()
            actual = simulated.holdout_frequency[members]
            se = max(actual.std(), 1e-9) / np.sqrt(n)
            assert abs(predicted[members].mean() - actual.mean()) < 4 * se + 1e-3, k
            share = simulated.alive[members].mean()
            se_alive = np.sqrt(max(share * (1 - share), 1e-9) / n)
            assert abs(alive[members].mean() - share) < 4 * se_alive + 1e-3, k
        total = simulated.holdout_frequency.sum()
        assert predicted.sum() == pytest.approx(total, rel=0.02)

    def test_expected_spend_matches_simulation(self):
        """E[M | m_x, x] is the mean, over customers with data like theirs, of their true mean
        spend p/ν: checked by frequency and by observed-spend quartile."""
        rng = np.random.default_rng(8)
        n = 200_000
        x = rng.integers(1, 12, n).astype(float)
        nu = rng.gamma(CDNOW_SPEND.q, 1 / CDNOW_SPEND.v, n)
        monetary = rng.gamma(CDNOW_SPEND.p * x, 1 / nu) / x
        true_mean = CDNOW_SPEND.p / nu
        predicted = model.conditional_expected_spend(CDNOW_SPEND, x, monetary)
        quartile = np.searchsorted(np.quantile(monetary, [0.25, 0.5, 0.75]), monetary)
        for groups in (np.minimum(x, 6), quartile):
            for k in np.unique(groups):
                members = groups == k
                se = true_mean[members].std() / np.sqrt(members.sum())
                assert abs(predicted[members].mean() - true_mean[members].mean()) < 4 * se
        # Without repeat purchases: the population mean p·v/(q − 1).
        population = model.conditional_expected_spend(CDNOW_SPEND, [0], [0.0])[0]
        assert population == pytest.approx(CDNOW_SPEND.mean_spend)

    def test_no_finite_mean_spend_when_q_is_at_most_one(self):
        params = model.GammaGammaParams(2.0, 0.9, 10.0)
        assert params.mean_spend is None
        with pytest.raises(ValueError):
            model.conditional_expected_spend(params, [1], [5.0])


class TestLifetimeValue:
    x, t_x, T = np.array([0.0, 2.0, 9.0]), np.array([0.0, 30.0, 70.0]), np.full(3, 78.0)
    spend = np.array([40.0, 35.0, 50.0])

    def test_undiscounted_is_expected_purchases_times_spend(self):
        value = model.customer_lifetime_value(
            CDNOW, self.spend, self.x, self.t_x, self.T, horizon=52.0, period=4.35
        )
        purchases = model.conditional_expected_purchases(CDNOW, 52.0, self.x, self.t_x, self.T)
        assert value == pytest.approx(purchases * self.spend)

    def test_discounting_sums_each_period_at_its_own_rate(self):
        d, period = 0.01, 52.0 / 12
        value = model.customer_lifetime_value(
            CDNOW, self.spend, self.x, self.t_x, self.T, horizon=52.0, period=period,
            discount_rate=d,
        )  # fmt: skip
        cumulative = [
            model.conditional_expected_purchases(CDNOW, k * period, self.x, self.t_x, self.T)
            for k in range(13)
        ]
        expected = (
            sum((cumulative[k] - cumulative[k - 1]) / (1 + d) ** k for k in range(1, 13))
            * self.spend
        )
        assert value == pytest.approx(expected)
        undiscounted = model.customer_lifetime_value(
            CDNOW, self.spend, self.x, self.t_x, self.T, horizon=52.0, period=period
        )
        assert np.all(value < undiscounted)


class TestHoldoutEvaluation:
    def test_errors_totals_and_bins(self):
        predicted = np.array([0.5, 1.0, 2.0, 4.0, 9.0])
        actual = np.array([0.0, 1.0, 3.0, 4.0, 8.0])
        frequency = np.array([0, 1, 1, 3, 12])
        result = model.evaluate_holdout(predicted, actual, frequency)
        assert result["customers"] == 5
        assert result["mae"] == pytest.approx(0.5)
        assert result["predicted_total"] == 16.5 and result["actual_total"] == 16.0
        assert result["aggregate_error"] == pytest.approx(0.5 / 16)
        assert result["correlation"] == pytest.approx(np.corrcoef(predicted, actual)[0, 1])
        bins = {b["frequency"]: b for b in result["by_frequency"]}
        assert list(bins) == ["0", "1", "2", "3", "4", "5", "6", "7+"]
        assert bins["1"] == {
            "frequency": "1", "customers": 2, "mean_predicted": 1.5, "mean_actual": 2.0
        }  # fmt: skip
        assert bins["2"]["customers"] == 0 and bins["2"]["mean_actual"] is None
        assert bins["7+"]["mean_predicted"] == 9.0

    def test_constant_actuals_have_no_correlation(self):
        result = model.evaluate_holdout([0.1, 0.2], [0, 0], [0, 1])
        assert result["correlation"] is None and result["aggregate_error"] is None
