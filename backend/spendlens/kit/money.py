"""Money as Decimal end to end, serialised in JSON as a string with two decimals."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import PlainSerializer

CENT = Decimal("0.01")


def to_cents(value: Decimal) -> Decimal:
    """Round to cents the way PostgreSQL's round(numeric, 2) does (half away from zero)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def format_money(value: Decimal) -> str:
    return f"{to_cents(Decimal(value)):.2f}"


Money = Annotated[Decimal, PlainSerializer(format_money, return_type=str, when_used="json")]
