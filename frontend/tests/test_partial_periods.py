"""Periods still running are marked, never drawn as if whole: cohorts' current period, a
customer's current month (no browser)."""

from __future__ import annotations

from datetime import date

from spendlens_dashboard import segment_charts
from spendlens_dashboard.pages.cohorts import cohorts_table_frame, running_note
from spendlens_dashboard.pages.customers import monthly_frame
from spendlens_dashboard.state.analytics import cohort_frame, observed_days

MATRIX = {
    "period": "month",
    "metric": "customers",
    "currency": "USD",
    "as_of": "2026-06-03",
    "start": "2026-05-01",
    "end": "2026-06-01",
    "cohorts": [
        {
            "cohort_start": "2026-05-01",
            "size": 10,
            "first_period_revenue": "100.00",
            "cells": [
                {"offset": 0, "period_start": "2026-05-01", "customers": 10, "revenue": "100.00",
                 "value": 1.0},
                {"offset": 1, "period_start": "2026-06-01", "customers": 1, "revenue": "9.00",
                 "value": 0.1},
            ],
        },
        {
            "cohort_start": "2026-06-01",
            "size": 4,
            "first_period_revenue": "40.00",
            "cells": [
                {"offset": 0, "period_start": "2026-06-01", "customers": 4, "revenue": "40.00",
                 "value": 1.0},
            ],
        },
    ],
}  # fmt: skip


def test_observed_days_of_weeks_months_and_quarters():
    assert observed_days("2026-06-29", "week", "2026-06-30") == (2, 7)
    assert observed_days("2026-06-01", "month", "2026-06-30") == (30, 30)
    assert observed_days("2026-12-01", "month", "2026-12-05") == (5, 31)
    assert observed_days("2026-04-01", "quarter", "2026-04-10") == (10, 91)
    assert observed_days("2026-04-01", "quarter", None) == (91, 91)


def test_the_current_month_of_every_cohort_is_starred():
    table = cohorts_table_frame(MATRIX)
    assert table["p0"].tolist() == ["100.0%", "100.0%*"]
    assert table["p1"].tolist() == ["10.0%*", ""]
    assert "3 of 30 days so far" in running_note(MATRIX)
    heatmap = segment_charts.cohort_heatmap(cohort_frame(MATRIX)).HeatMap.I.dframe()
    running = heatmap[heatmap["value_label"].str.endswith("*")]
    assert sorted(running["period_start"]) == ["2026-06-01", "2026-06-01"]
    assert set(running["observed_label"]) == {"3 of 30 days so far (still running)"}


def test_a_whole_month_is_not_starred():
    whole = {**MATRIX, "as_of": "2026-06-30"}
    assert not any("*" in v for v in cohorts_table_frame(whole)["p1"])
    assert running_note(whole) == ""


def test_a_customers_current_month_is_partial():
    detail = {
        "monthly_spend": [
            {"month": "2026-05-01", "total_spend": "20.00", "transaction_count": 2},
            {"month": "2026-06-01", "total_spend": "5.00", "transaction_count": 1},
        ]
    }
    frame = monthly_frame(detail, date(2026, 6, 3))
    assert frame["partial"].tolist() == [False, True]
    assert frame["days"].tolist() == [31, 3]
    assert monthly_frame(detail, date(2026, 6, 30))["partial"].tolist() == [False, False]
