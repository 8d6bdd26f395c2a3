"""The view in the address bar: which page, the shared filters and the page's own options, as a
query string, so a reload, Back/Forward, a bookmark or a link sent to a colleague reopens it.

`view_search()` writes it; `parse_search()` and `restore_filters()` read it back. Every value
read from a URL is checked like user input: anything unknown or malformed falls back to the
default instead of failing. Only values that differ from the defaults are written, so links
stay short. The page's own options (interval, search, customer id, …) come from the pages, which
implement `view_options()` and `restore_view()` (see pages/).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from urllib.parse import parse_qs, urlencode

from spendlens_dashboard.state.filters import PRESETS, Filters, money_param

Query = Mapping[str, Sequence[str]]
Pairs = list[tuple[str, str]]

PAGE_KEY = "page"
FILTER_KEYS = ("range", "from", "to", "category", "merchant", "min", "max")
MAX_LIST = 200  # more categories or merchants than anyone picks by hand


def parse_search(search: str | None) -> dict[str, list[str]]:
    """'?page=overview&category=A&category=B' → {'page': ['overview'], 'category': ['A', 'B']}."""
    return parse_qs((search or "").lstrip("?"), keep_blank_values=False)


def first(query: Query, key: str) -> str | None:
    values = query.get(key) or []
    return values[0] if values else None


def as_day(text: str | None) -> date | None:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return None
    return day if date(1900, 1, 1) <= day <= date(2100, 12, 31) else None


def as_number(text: str | None) -> float | None:
    try:
        number = float(text or "")
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def as_int(text: str | None, low: int = 1) -> int | None:
    try:
        number = int(text or "")
    except ValueError:
        return None
    return number if low <= number < 2**63 else None


def as_list(query: Query, key: str) -> list[str]:
    seen: list[str] = []
    for value in (query.get(key) or [])[:MAX_LIST]:
        if value and value not in seen:
            seen.append(value)
    return seen


def one_of(text: str | None, choices: Iterable[str], default: str) -> str:
    return text if text in set(choices) else default


def filter_pairs(filters: Filters) -> Pairs:
    pairs: Pairs = []
    if filters.preset != "last_30_days":
        pairs.append(("range", filters.preset))
    if filters.preset == "custom":
        start, end = filters.period()
        pairs += [("from", start.isoformat()), ("to", end.isoformat())]
    pairs += [("category", c) for c in filters.categories]
    pairs += [("merchant", m) for m in filters.merchants]
    if filters.min_amount is not None:
        pairs.append(("min", money_param(filters.min_amount)))
    if filters.max_amount is not None:
        pairs.append(("max", money_param(filters.max_amount)))
    return pairs


def restore_filters(filters: Filters, query: Query) -> None:
    """Set every filter from the query (absent → default), in one update."""
    preset = one_of(first(query, "range"), PRESETS, "last_30_days")
    start = end = None
    if preset == "custom":
        start, end = as_day(first(query, "from")), as_day(first(query, "to"))
        if start is None or end is None:
            preset, start, end = "last_30_days", None, None
        elif end < start:
            start, end = end, start
    values = dict(
        preset=preset,
        start_date=start,
        end_date=end,
        categories=as_list(query, "category"),
        merchants=as_list(query, "merchant"),
        min_amount=as_number(first(query, "min")),
        max_amount=as_number(first(query, "max")),
    )
    changed = {k: v for k, v in values.items() if getattr(filters, k) != v}
    if changed:
        filters.param.update(**changed)


def view_search(page: str, filters: Filters | None, options: Pairs) -> str:
    """The query string of a view: page first, then the filters, then the page's options."""
    pairs: Pairs = [(PAGE_KEY, page)]
    if filters is not None:
        pairs += filter_pairs(filters)
    pairs += options
    return "?" + urlencode(pairs)
