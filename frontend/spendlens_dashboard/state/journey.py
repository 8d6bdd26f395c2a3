"""The Journey page's data: customers per lifecycle stage now and over time, the funnel of the
customers first seen in the sidebar's period, and the flows between the stages at its two ends;
and, for the customer page, one customer's stage history and events.

The period is the shared filters' date range (their other fields do not apply to the journey).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pandas as pd
import param

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.state.stores import API_CALLS, FilteredStore, PagedStore, Store

STAGES = ["lead", "prospect", "customer", "churned"]
FUNNEL_STEPS = ["lead", "prospect", "customer"]
STAGE_POINT_COLUMNS = ["period_start", "as_of", "partial", *STAGES, "total"]
FUNNEL_COLUMNS = [
    "stage",
    "customers",
    "conversion",
    "conversion_from_lead",
    "median_seconds",
    "p90_seconds",
]
FLOW_COLUMNS = ["from_stage", "to_stage", "customers"]
HISTORY_COLUMNS = ["stage", "valid_from", "valid_to", "reactivation"]
EVENT_COLUMNS = ["occurred_at", "type", "event_id", "properties"]


def stages_frame(answer: dict | None) -> pd.DataFrame:
    """Customers per stage (lead … churned) with their share, in the API's order."""
    rows = (answer or {}).get("stages", [])
    return pd.DataFrame(rows, columns=["stage", "customers", "share"])


def stage_points_frame(answer: dict | None) -> pd.DataFrame:
    """One row per period: customers per stage at its end."""
    frame = pd.DataFrame((answer or {}).get("points", []), columns=STAGE_POINT_COLUMNS)
    frame["period_start"] = pd.to_datetime(frame["period_start"])
    return frame


def funnel_frame(answer: dict | None) -> pd.DataFrame:
    return pd.DataFrame((answer or {}).get("steps", []), columns=FUNNEL_COLUMNS)


def flows_frame(answer: dict | None) -> pd.DataFrame:
    return pd.DataFrame((answer or {}).get("links", []), columns=FLOW_COLUMNS)


def when(value: str | None) -> str:
    """An API instant as 'YYYY-MM-DD HH:MM' UTC; '' for none."""
    if not value:
        return ""
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%d %H:%M")


def history_frame(answer: dict | None) -> pd.DataFrame:
    """A customer's stage intervals, oldest first, as text ('now' for the open one)."""
    rows = [
        {
            "stage": item["stage"],
            "valid_from": when(item["valid_from"]),
            "valid_to": when(item["valid_to"]) or "now",
            "reactivation": "yes" if item["reactivation"] else "",
        }
        for item in (answer or {}).get("items", [])
    ]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS)


def events_frame(answer: dict | None) -> pd.DataFrame:
    """A page of events, newest first, with their properties as short text."""
    rows = [
        {
            "occurred_at": when(item["occurred_at"]),
            "type": item["type"],
            "event_id": str(item["event_id"]),
            "properties": ", ".join(f"{k}={v}" for k, v in (item["properties"] or {}).items()),
        }
        for item in (answer or {}).get("items", [])
    ]
    return pd.DataFrame(rows, columns=EVENT_COLUMNS)


class JourneyStore(FilteredStore):
    """GET /journey/stages (at `as_of`, None: now), /stages/timeseries, /funnel and /flows for the
    shared filters' period."""

    interval = param.Selector(objects=["day", "week", "month"], default="week")
    within_days = param.Integer(default=None, allow_None=True, bounds=(0, 3650))
    as_of = param.CalendarDate(default=None, allow_None=True, doc="'Now' (None: the API's now)")

    stages = param.Dict(default=None, allow_None=True, doc="GET /journey/stages")
    timeseries = param.DataFrame(default=None, allow_None=True)
    funnel = param.Dict(default=None, allow_None=True, doc="GET /journey/funnel")
    flows = param.Dict(default=None, allow_None=True, doc="GET /journey/flows")

    def requests(self) -> dict[str, dict[str, Any]]:
        """The parameters of each call for the current filters and options."""
        start, end = self.filters.period()
        return {
            "stages": {"as_of": self.as_of.isoformat() if self.as_of else None},
            "timeseries": {
                "interval": self.interval,
                "start": start.isoformat(),
                "end": end.isoformat(),
            },
            "funnel": {
                "start": start.isoformat(),
                "end": end.isoformat(),
                "within_days": self.within_days,
            },
            # From the end of the day before the period to the end of its last day.
            "flows": {"start": (start - timedelta(days=1)).isoformat(), "end": end.isoformat()},
        }

    @property
    def is_empty(self) -> bool:
        """No customer has a stage at the end of the period (no events yet)."""
        if not self.flows or not self.stages:
            return False
        return self.flows["total"] == 0 and self.stages["total"] == 0

    @param.depends("interval", "within_days", watch=True)
    def _options_changed(self) -> None:
        self.load()

    def _fetch(self) -> dict[str, Any]:
        asked = self.requests()
        calls = {
            "stages": API_CALLS.submit(self.client.journey_stages, **asked["stages"]),
            "timeseries": API_CALLS.submit(self.client.journey_timeseries, **asked["timeseries"]),
            "funnel": API_CALLS.submit(self.client.journey_funnel, **asked["funnel"]),
            "flows": API_CALLS.submit(self.client.journey_flows, **asked["flows"]),
        }
        answers = {name: call.result() for name, call in calls.items()}
        answers["timeseries"] = stage_points_frame(answers["timeseries"])
        return answers


class CustomerStagesStore(Store):
    """GET /customers/{id}/stages of the customer being looked at."""

    customer_id = param.Integer(default=None, allow_None=True)
    history = param.Dict(default=None, allow_None=True)

    @param.depends("customer_id", watch=True)
    def _customer_changed(self) -> None:
        if self.customer_id is not None:
            self.load()

    def _fetch(self) -> dict[str, Any]:
        if self.customer_id is None:
            return {"history": None}
        return {"history": self.client.customer_stages(self.customer_id)}


class CustomerEventsStore(PagedStore):
    """One page of GET /customers/{id}/events (newest first) of the customer being looked at."""

    customer_id = param.Integer(default=None, allow_None=True)
    types = param.List(default=[], item_type=str, doc="Only these event types (empty: all)")
    items = param.DataFrame(default=None, allow_None=True)

    def __init__(self, client: ApiClient, **params) -> None:
        params.setdefault("page_size", 10)
        super().__init__(client, **params)

    @param.depends("customer_id", "types", watch=True)
    def _customer_changed(self) -> None:
        if self.customer_id is not None:
            self.first_page()

    def _fetch(self) -> dict[str, Any]:
        if self.customer_id is None:
            return {"items": events_frame(None), "total": 0}
        answer = self.client.customer_events(
            self.customer_id, type=list(self.types) or None, **self.page_params()
        )
        return {"items": events_frame(answer), "total": answer["total"]}
