"""The sidebar's filter set, mapped one-to-one onto the API's query parameters."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import param

from spendlens_dashboard.formatting import format_day

PRESETS: dict[str, str] = {
    "last_30_days": "Last 30 days",
    "last_90_days": "Last 90 days",
    "year_to_date": "Year to date",
    "last_12_months": "Last 12 months",
    "custom": "Custom range",
}

QueryParams = dict[str, str | list[str]]


def one_year_before(day: date) -> date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


def preset_period(preset: str, today: date) -> tuple[date, date]:
    """First and last day (both included) of a preset that ends on `today`."""
    if preset == "last_30_days":
        return today - timedelta(days=29), today
    if preset == "last_90_days":
        return today - timedelta(days=89), today
    if preset == "year_to_date":
        return date(today.year, 1, 1), today
    if preset == "last_12_months":
        return one_year_before(today) + timedelta(days=1), today
    raise ValueError(f"not a relative preset: {preset!r}")


def money_param(value: float) -> str:
    return f"{Decimal(str(value)).quantize(Decimal('0.01'))}"


class Filters(param.Parameterized):
    """What the analyst narrowed the data to; `query_params()` is what the API receives."""

    today = param.CalendarDate(
        default=None, allow_None=True, doc="Presets end on this day; None means the real today"
    )
    preset = param.Selector(objects=list(PRESETS), default="last_30_days")
    start_date = param.CalendarDate(default=None, allow_None=True, doc="First day (custom range)")
    end_date = param.CalendarDate(default=None, allow_None=True, doc="Last day (custom range)")
    categories = param.List(default=[], item_type=str)
    merchants = param.List(default=[], item_type=str, doc="Merchant names")
    min_amount = param.Number(default=None, allow_None=True)
    max_amount = param.Number(default=None, allow_None=True)

    # The parameters whose change changes what the API returns.
    QUERY_FIELDS = (
        "preset",
        "start_date",
        "end_date",
        "categories",
        "merchants",
        "min_amount",
        "max_amount",
    )

    def reference_day(self) -> date:
        return self.today or date.today()

    def period(self) -> tuple[date, date]:
        """The date range in force: the preset's, or the custom one (ordered, never empty)."""
        today = self.reference_day()
        if self.preset != "custom":
            return preset_period(self.preset, today)
        default_start, default_end = preset_period("last_30_days", today)
        start = self.start_date or default_start
        end = self.end_date or max(start, default_end)
        return (start, end) if start <= end else (end, start)

    def query_params(self) -> QueryParams:
        """The API's shared filter parameters, one per filter (lists repeat the key)."""
        start, end = self.period()
        params: QueryParams = {"start_date": start.isoformat(), "end_date": end.isoformat()}
        if self.categories:
            params["category"] = list(self.categories)
        if self.merchants:
            params["merchant"] = list(self.merchants)
        low, high = self.min_amount, self.max_amount
        if low is not None and high is not None and high < low:
            low, high = high, low
        if low is not None:
            params["min_amount"] = money_param(low)
        if high is not None:
            params["max_amount"] = money_param(high)
        return params

    def describe(self) -> str:
        """A one-line summary of the period, e.g. 'Last 30 days · 2026-06-01 – 2026-06-30'."""
        start, end = self.period()
        return f"{PRESETS[self.preset]} · {format_day(start)} – {format_day(end)}"

    def reset(self) -> None:
        self.param.update(
            preset="last_30_days",
            start_date=None,
            end_date=None,
            categories=[],
            merchants=[],
            min_amount=None,
            max_amount=None,
        )
