"""How values read on screen: money with its currency, counts and period-over-period change, and
user-written text made safe to put into HTML."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

CURRENCY_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CNY": "¥"}


def format_money(value: str | float | Decimal | None, currency: str = "USD") -> str:
    """'723361.41', 'USD' → '$723,361.41'; unknown currencies are prefixed with their code."""
    if value is None or value == "" or _is_nan(value):
        return "–"
    amount = Decimal(str(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    sign = "-" if amount < 0 else ""
    symbol = CURRENCY_SYMBOLS.get(currency)
    prefix = symbol if symbol else f"{currency} "
    return f"{sign}{prefix}{abs(amount):,.2f}"


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


def format_count(value: int | float | None) -> str:
    if value is None or _is_nan(value):
        return "–"
    return f"{int(value):,}"


def format_change(
    change: float | None, previous: str | float | Decimal | None = None
) -> tuple[str, str]:
    """A change ratio as (text, direction): 0.0643 → ('▲ 6.4%', 'up'); None → ('n/a', 'flat').

    The API's ratio is (current − previous) / previous: over a negative previous figure (net
    refunds) its sign is the opposite of the change's, so given `previous` the arrow follows
    the change itself (more refunds than before is ▼, whatever the ratio's sign)."""
    if change is None:
        return "no previous data", "flat"
    if previous is not None and Decimal(str(previous)) < 0:
        change = -change
    percent = Decimal(str(change * 100)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    if percent > 0:
        return f"▲ {percent}%", "up"
    if percent < 0:
        return f"▼ {abs(percent)}%", "down"
    return "● 0.0%", "flat"


DAY_FORMAT = "%d %b %Y"  # the one way the dashboard writes a day: 01 Jun 2026
DAY_PICKER_FORMAT = "d M Y"  # the same, in the date pickers' (flatpickr's) notation


def format_day(day: date | str | None) -> str:
    """'2026-06-01' or date(2026, 6, 1) → '01 Jun 2026' ('–' for none)."""
    if not day:
        return "–"
    value = date.fromisoformat(day[:10]) if isinstance(day, str) else day
    return value.strftime(DAY_FORMAT)


def format_share(share: float) -> str:
    return f"{share * 100:.1f}%"


def safe_text(value: object) -> str:
    """Text anyone wrote (a name, a category, a file name, an API message) as HTML that shows it
    literally: `<img onerror=...>` stays text in HTML, Markdown and Alert panes and in attributes.
    None is ''."""
    return html.escape("" if value is None else str(value), quote=True)


def text_options(labels: Iterable[str]) -> dict[str, str]:
    """Options of a picker whose labels are user-written: shown label (escaped, because Bokeh's
    MultiChoice draws labels as HTML) → the value itself."""
    return {safe_text(label): label for label in labels}
