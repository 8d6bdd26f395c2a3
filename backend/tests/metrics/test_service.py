"""Period maths and ratio rounding of the metrics service: pure functions, no database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from spendlens.errors import Unprocessable
from spendlens.metrics.schemas import Interval, Period
from spendlens.metrics.service import (
    calendar_months_period,
    change_from,
    point_count,
    previous_period,
    rolling_period,
)
from spendlens.transactions.filters import TransactionFilters

TODAY = date(2026, 6, 30)


def period(start: str, end: str) -> Period:
    return Period(start_date=date.fromisoformat(start), end_date=date.fromisoformat(end))


def filters(start: str | None = None, end: str | None = None) -> TransactionFilters:
    return TransactionFilters(
        start_date=date.fromisoformat(start) if start else None,
        end_date=date.fromisoformat(end) if end else None,
    )


class TestRollingPeriod:
    @pytest.mark.parametrize(
        "start, end, expected",
        [
            (None, None, period("2026-06-01", "2026-06-30")),
            ("2026-02-15", None, period("2026-02-15", "2026-06-30")),  # up to today
            ("2026-07-10", None, period("2026-07-10", "2026-08-08")),  # future: 30 days
            (None, "2026-03-01", period("2026-01-31", "2026-03-01")),
            ("2026-01-01", "2026-01-01", period("2026-01-01", "2026-01-01")),
        ],
    )
    def test_missing_bounds(self, start, end, expected):
        assert rolling_period(filters(start, end), TODAY) == expected

    @pytest.mark.parametrize(
        "start, end", [("0001-01-01", None), ("9999-12-20", None), (None, "9999-12-31")]
    )
    def test_dates_at_the_edge_of_the_calendar_are_refused(self, start, end):
        with pytest.raises(Unprocessable):
            previous_period(rolling_period(filters(start, end), TODAY))


class TestPreviousPeriod:
    def test_is_equally_long_and_ends_the_day_before(self):
        assert previous_period(period("2026-03-01", "2026-03-31")) == period(
            "2026-01-29", "2026-02-28"
        )
        assert previous_period(period("2024-03-01", "2024-03-01")) == period(
            "2024-02-29", "2024-02-29"
        )


class TestCalendarMonthsPeriod:
    @pytest.mark.parametrize(
        "start, end, expected",
        [
            (None, None, period("2025-07-01", "2026-06-30")),
            (None, "2026-01-15", period("2025-02-01", "2026-01-15")),
            ("2025-03-10", None, period("2025-03-10", "2026-06-30")),  # up to today
            ("2026-07-31", None, period("2026-07-31", "2027-06-30")),  # future: 12 months
            ("2025-03-10", "2025-03-12", period("2025-03-10", "2025-03-12")),
        ],
    )
    def test_missing_bounds(self, start, end, expected):
        assert calendar_months_period(filters(start, end), TODAY) == expected

    @pytest.mark.parametrize("start, end", [("9999-03-01", None), (None, "9999-12-31")])
    def test_dates_at_the_edge_of_the_calendar_are_refused(self, start, end):
        with pytest.raises(Unprocessable):
            calendar_months_period(filters(start, end), TODAY)


class TestPointCount:
    @pytest.mark.parametrize(
        "start, end, interval, expected",
        [
            ("2026-04-01", "2026-06-30", Interval.day, 91),
            ("2026-04-01", "2026-06-30", Interval.week, 14),  # Mon 30 March .. Mon 29 June
            ("2026-03-30", "2026-04-05", Interval.week, 1),
            ("2026-04-05", "2026-04-06", Interval.week, 2),  # Sunday, then Monday
            ("2026-04-01", "2026-06-30", Interval.month, 3),
            ("2025-12-31", "2026-01-01", Interval.month, 2),
        ],
    )
    def test_counts_date_trunc_buckets(self, start, end, interval, expected):
        assert point_count(period(start, end), interval) == expected


class TestRatios:
    def test_change_from_zero_is_null(self):
        assert change_from(Decimal("5.00"), Decimal("0")) is None
        assert change_from(0, 0) is None
        assert change_from(Decimal("75.00"), Decimal("100.00")) == -0.25
        assert change_from(3, 2) == 0.5
