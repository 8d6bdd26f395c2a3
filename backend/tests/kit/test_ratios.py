"""Ratio rounding shared by metrics, segments and cohorts: pure functions, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from spendlens.kit.ratios import ratio_or_none, rounded_ratio, share_of


class TestRatios:
    @pytest.mark.parametrize(
        "part, whole, expected",
        [
            (Decimal("1"), Decimal("3"), 0.3333),
            (Decimal("2"), Decimal("3"), 0.6667),
            (Decimal("1"), Decimal("8"), 0.125),
            (Decimal("0.00005"), Decimal("1"), 0.0001),  # half rounds away from zero
            (Decimal("-0.00005"), Decimal("1"), -0.0001),
            (Decimal("-1"), Decimal("-4"), 0.25),
            (7, 2, 3.5),
        ],
    )
    def test_rounded_ratio_rounds_half_away_from_zero(self, part, whole, expected):
        assert rounded_ratio(part, whole) == expected

    def test_share_of_nothing_is_zero(self):
        assert share_of(Decimal("5.00"), Decimal("0.00")) == 0.0

    def test_ratio_of_nothing_is_none(self):
        assert ratio_or_none(Decimal("5.00"), Decimal("0")) is None
        assert ratio_or_none(1, 8) == 0.125
