"""Lifetime value charts and the frames they are drawn from: element types, bin labels and their
order, money with the organisation's currency in tooltips, the heatmap's bucket order and blank
cells, predicted next to actual per frequency group, and empty data."""

from __future__ import annotations

from datetime import date

import holoviews as hv
import pandas as pd
import pytest

from spendlens_dashboard import clv_charts
from spendlens_dashboard.state.clv import (
    default_windows,
    distribution_frame,
    evaluation_frame,
    fit_body,
    format_number,
    format_percent,
    p_alive_frame,
    top_customers_frame,
)

SUMMARY = {
    "clv_distribution": {
        "bins": [
            {"low": "0.00", "high": "2000.00", "customers": 600, "clv_total": "450000.50"},
            {"low": "2000.00", "high": "4000.00", "customers": 300, "clv_total": "900000.00"},
            {"low": "4000.00", "high": "6000.00", "customers": 0, "clv_total": "0.00"},
            {"low": "6000.00", "high": None, "customers": 100, "clv_total": "1234567.89"},
        ]
    },
    "p_alive": {
        "recency_buckets": ["< 1 wk", "1–4 wk", "52–104 wk"],
        "frequency_buckets": ["0", "2", "10–19"],
        "cells": [
            {"recency": r, "frequency": f, "customers": n, "mean_p_alive": p}
            for r, f, n, p in [
                ("< 1 wk", "0", 5, 1.0),
                ("< 1 wk", "2", 3, 0.97),
                ("< 1 wk", "10–19", 8, 0.995),
                ("1–4 wk", "0", 0, None),
                ("1–4 wk", "2", 4, 0.9),
                ("1–4 wk", "10–19", 2, 0.6),
                ("52–104 wk", "0", 7, 1.0),
                ("52–104 wk", "2", 1, 0.2),
                ("52–104 wk", "10–19", 0, None),
            ]
        ],
    },
}
FIT = {
    "evaluation": {
        "by_frequency": [
            {"frequency": "0", "customers": 28, "mean_predicted": 0.75, "mean_actual": 0.5},
            {"frequency": "1", "customers": 33, "mean_predicted": 1.5, "mean_actual": 2.0},
            {"frequency": "6", "customers": 0, "mean_predicted": None, "mean_actual": None},
            {"frequency": "7+", "customers": 1442, "mean_predicted": 22.96, "mean_actual": 19.5},
        ]
    }
}


def tooltips(element) -> dict[str, str]:
    return dict(hv.Store.lookup_options("bokeh", element, "plot").kwargs["hover_tooltips"])


class TestClvDistribution:
    def test_bins_in_order_with_short_labels_and_an_open_last_bin(self):
        bars = clv_charts.clv_distribution(distribution_frame(SUMMARY), currency="EUR")
        assert isinstance(bars, hv.Bars)
        data = bars.dframe()
        assert list(data["bin"]) == ["€0–€2k", "€2k–€4k", "€4k–€6k", "≥ €6k"]
        assert list(data["customers"]) == [600, 300, 0, 100]
        # The empty bin stays: a gap in a histogram is information.
        plot = hv.render(bars)
        assert list(plot.x_range.factors) == list(data["bin"])

    def test_tooltips_show_money_in_the_currency_and_shares(self):
        data = clv_charts.clv_distribution(distribution_frame(SUMMARY), currency="EUR").dframe()
        assert list(data["range_label"]) == [
            "€0.00 to €2,000.00",
            "€2,000.00 to €4,000.00",
            "€4,000.00 to €6,000.00",
            "€6,000.00 and more",
        ]
        assert list(data["total_label"])[-1] == "€1,234,567.89"
        assert list(data["share_label"]) == ["60.0%", "30.0%", "0.0%", "10.0%"]
        assert list(data["count_label"]) == ["600", "300", "0", "100"]
        tips = tooltips(clv_charts.clv_distribution(distribution_frame(SUMMARY)))
        assert tips["Their total CLV"] == "@total_label"
        assert tips["Lifetime value"] == "@range_label"

    def test_small_and_fractional_bins_keep_their_digits(self):
        frame = pd.DataFrame(
            {"low": [0.0, 2.5], "high": [2.5, 5.0], "customers": [1, 2], "clv_total": [1, 8]}
        )
        labels = clv_charts.clv_distribution(frame, currency="GBP").dframe()["bin"]
        assert list(labels) == ["£0–£2.5", "£2.5–£5"]

    def test_an_unknown_currency_is_named(self):
        data = clv_charts.clv_distribution(distribution_frame(SUMMARY), currency="CHF").dframe()
        assert data["bin"].iloc[1] == "CHF 2k–CHF 4k"
        assert data["total_label"].iloc[0] == "CHF 450,000.50"


class TestPAliveHeatmap:
    def test_empty_cells_stay_blank_and_values_are_percent(self):
        heatmap = clv_charts.p_alive_heatmap(p_alive_frame(SUMMARY))
        assert isinstance(heatmap, hv.HeatMap)
        data = heatmap.dframe()
        assert len(data) == 7  # 9 cells, 2 without customers
        cell = data[(data["recency"] == "1–4 wk") & (data["frequency"] == "10–19")].iloc[0]
        assert cell["mean_p_alive"] == 0.6 and cell["p_alive_label"] == "60.0%"
        assert cell["count_label"] == "2"

    def test_buckets_keep_their_order_most_recent_at_the_top(self):
        plot = hv.render(clv_charts.p_alive_heatmap(p_alive_frame(SUMMARY)))
        # Text order would put '10–19' before '2'.
        assert list(plot.x_range.factors) == ["0", "2", "10–19"]
        # Bokeh lists the y factors bottom up.
        assert list(plot.y_range.factors) == ["52–104 wk", "1–4 wk", "< 1 wk"]

    def test_colours_span_zero_to_one_whatever_the_data(self):
        options = hv.Store.lookup_options(
            "bokeh", clv_charts.p_alive_heatmap(p_alive_frame(SUMMARY)), "style"
        ).kwargs
        plot_options = hv.Store.lookup_options(
            "bokeh", clv_charts.p_alive_heatmap(p_alive_frame(SUMMARY)), "plot"
        ).kwargs
        assert options["cmap"] == clv_charts.HEATMAP_CMAP
        assert plot_options["clim"] == (0, 1)


class TestHoldoutComparison:
    def test_predicted_next_to_actual_per_group(self):
        bars = clv_charts.holdout_comparison(evaluation_frame(FIT))
        assert isinstance(bars, hv.Bars)
        data = bars.dframe()
        # The group without customers (no means) has no bars.
        assert list(data["frequency"]) == ["0", "0", "1", "1", "7+", "7+"]
        pairs = {(r.frequency, r.series): r.purchases for r in data.itertuples()}
        assert pairs[("7+", "Predicted")] == 22.96 and pairs[("7+", "Actual")] == 19.5
        colours = dict(zip(data["series"], data["color"]))
        assert colours == {
            "Predicted": clv_charts.PREDICTED_COLOR,
            "Actual": clv_charts.ACTUAL_COLOR,
        }
        assert list(data["count_label"])[-1] == "1,442"
        assert list(data["value_label"])[:2] == ["0.75", "0.50"]
        plot = hv.render(bars)
        assert {group for group, _ in plot.x_range.factors} == {"0", "1", "7+"}
        # The groups are labelled, the series are told apart by colour (named in the title).
        assert plot.xaxis[0].major_label_text_font_size == "0px"
        assert "predicted (orange) vs actual (blue)" in plot.title.text


@pytest.mark.parametrize(
    "chart",
    [
        lambda frame: clv_charts.clv_distribution(frame, currency="USD"),
        clv_charts.p_alive_heatmap,
        clv_charts.holdout_comparison,
    ],
)
def test_empty_frames_give_empty_charts(chart):
    for frame in (
        pd.DataFrame(),
        distribution_frame(None),
        p_alive_frame({}),
        evaluation_frame({}),
    ):
        element = chart(frame)
        assert len(element.dframe()) == 0
        hv.render(element)  # draws without an error


class TestFrames:
    def test_top_customers_are_ranked_and_formatted(self):
        items = [
            {
                "customer_id": 7,
                "external_id": None,
                "name": "Ada",
                "frequency": 1234,
                "p_alive": 0.98765,
                "expected_purchases": 3.14159,
                "expected_spend": "12.50",
                "clv": "1234.56",
                "recency": 1.0,
            },
            {
                "customer_id": 9,
                "external_id": "C9",
                "name": "Bo",
                "frequency": 0,
                "p_alive": 1.0,
                "expected_purchases": 0.5,
                "expected_spend": None,
                "clv": None,
            },
        ]
        frame = top_customers_frame(items, "USD")
        assert list(frame.columns)[:3] == ["rank", "customer_id", "name"]
        assert list(frame["rank"]) == [1, 2]
        assert frame.iloc[0].to_dict() == {
            "rank": 1,
            "customer_id": 7,
            "name": "Ada",
            "external_id": "",
            "frequency": "1,234",
            "p_alive": "98.8%",
            "expected_purchases": "3.14",
            "expected_spend": "$12.50",
            "clv": "$1,234.56",
        }
        assert frame.iloc[1]["clv"] == "–" and frame.iloc[1]["external_id"] == "C9"
        assert top_customers_frame([], "USD").empty

    def test_distribution_frame_marks_the_open_bin(self):
        frame = distribution_frame(SUMMARY)
        assert frame["high"].isna().tolist() == [False, False, False, True]
        assert frame["clv_total"].sum() == pytest.approx(2584568.39)

    def test_p_alive_frame_keeps_the_bucket_orders(self):
        frame = p_alive_frame(SUMMARY)
        assert frame.attrs["frequency_order"] == ["0", "2", "10–19"]
        assert frame["mean_p_alive"].isna().sum() == 2


class TestFitForm:
    def test_defaults_hold_out_the_last_90_days_of_data(self):
        values = default_windows(date(2024, 7, 1), date(2026, 6, 30), today=date(2026, 11, 29))
        assert values["calibration_start"] == date(2024, 7, 1)
        assert values["calibration_end"] == date(2026, 4, 1)
        assert values["holdout_end"] == date(2026, 6, 30)
        assert (values["purchases_horizon_days"], values["clv_horizon_days"]) == (90, 365)

    def test_defaults_never_reach_past_today_or_invert_the_window(self):
        future = default_windows(date(2024, 1, 1), date(2030, 1, 1), today=date(2026, 11, 29))
        assert future["holdout_end"] == date(2026, 11, 29)
        recent = default_windows(date(2026, 10, 1), date(2026, 11, 1), today=date(2026, 11, 29))
        assert recent["calibration_start"] < recent["calibration_end"] == date(2026, 8, 3)
        empty = default_windows(None, None, today=date(2026, 11, 29))
        assert empty["holdout_end"] == date(2026, 11, 29)
        assert empty["calibration_start"] == date(2025, 8, 31)

    def test_body_of_the_post(self):
        values = default_windows(date(2024, 7, 1), date(2026, 6, 30), today=date(2026, 11, 29))
        values["monthly_discount_rate"] = 0.015
        assert fit_body(values) == {
            "calibration_start": "2024-07-01",
            "calibration_end": "2026-04-01",
            "holdout_end": "2026-06-30",
            "purchases_horizon_days": 90,
            "clv_horizon_days": 365,
            "monthly_discount_rate": "0.0150",
        }
        assert fit_body({**values, "holdout_end": None})["holdout_end"] is None


@pytest.mark.parametrize(
    "value,text",
    [(0.24312, "0.2431"), (4.51234, "4.512"), (65.0312, "65.03"), (425.71, "425.7"),
     (12345.6, "12,346"), (None, "–")],
)  # fmt: skip
def test_parameters_read_with_four_significant_digits(value, text):
    assert format_number(value) == text


def test_percent():
    assert format_percent(-0.0321, signed=True) == "-3.2%"
    assert format_percent(0.1, signed=True) == "+10.0%"
    assert format_percent(None) == "–"
