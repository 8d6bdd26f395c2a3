"""Ratios as the API reports them: computed exactly (fractions of Decimals), rounded half away
from zero, and only then made a float."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

RATIO_PLACES = 4


def rounded_ratio(part: Decimal | int, whole: Decimal | int, places: int = RATIO_PLACES) -> float:
    """part / whole rounded half away from zero to `places` decimals (whole must not be 0)."""
    scaled = Fraction(part) / Fraction(whole) * 10**places
    magnitude = int(abs(scaled) + Fraction(1, 2))  # floor(|x| + 1/2): half away from zero
    rounded = magnitude if scaled >= 0 else -magnitude
    return float(Decimal(rounded).scaleb(-places))


def share_of(part: Decimal | int, whole: Decimal | int) -> float:
    """part / whole as a rounded ratio; 0 when the whole is 0 (a share of nothing)."""
    return 0.0 if whole == 0 else rounded_ratio(part, whole)


def ratio_or_none(part: Decimal | int, whole: Decimal | int) -> float | None:
    """part / whole as a rounded ratio; None when the whole is 0 (the ratio does not exist)."""
    return None if whole == 0 else rounded_ratio(part, whole)
