"""The Segments and Cohorts pages' data: RFM segments with their R × F grid as of a day, the
movement between segments from one day to another, and the cohort retention matrix.

None of them follows the shared date filters: each page has controls of its own.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import param

from spendlens_dashboard.state.stores import API_CALLS, Store

NO_SEGMENT = "none"
NO_SEGMENT_LABELS = {"from": "No RFM yet", "to": "No RFM any more"}
SEGMENT_COLUMNS = [
    "segment",
    "label",
    "description",
    "customers",
    "share",
    "revenue",
    "revenue_share",
    "average_recency_days",
    "average_frequency",
    "average_monetary",
    "average_r_score",
    "average_f_score",
    "average_m_score",
]
GRID_COLUMNS = [
    "recency_score",
    "frequency_score",
    "customers",
    "share",
    "revenue",
    "segment",
    "segment_label",
    "segments_text",
]
MOVE_COLUMNS = ["from_segment", "to_segment", "from_label", "to_label", "customers"]
COHORT_COLUMNS = [
    "cohort_start",
    "cohort_label",
    "size",
    "first_period_revenue",
    "offset",
    "period_start",
    "customers",
    "revenue",
    "value",
    "observed_days",
    "period_days",
]
COHORT_PERIODS = ["week", "month", "quarter"]
COHORT_METRICS = ["customers", "revenue"]


# The API's names of the segments (GET /segments has them too, and wins when loaded).
SEGMENT_LABELS = {
    "champions": "Champions",
    "loyal": "Loyal",
    "potential_loyalist": "Potential Loyalist",
    "new": "New",
    "promising": "Promising",
    "need_attention": "Need Attention",
    "at_risk": "At Risk",
    "cant_lose_them": "Can't Lose Them",
    "hibernating": "Hibernating",
    "lost": "Lost",
}


def fallback_label(slug: str) -> str:
    return SEGMENT_LABELS.get(slug) or slug.replace("_", " ").title()


def segment_labels(overview: dict | None) -> dict[str, str]:
    """Slug → display name, from a GET /segments answer."""
    return {s["segment"]: s["label"] for s in (overview or {}).get("segments", [])}


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def segments_frame(overview: dict | None) -> pd.DataFrame:
    """One row per segment (best first, empty ones included); money as floats."""
    rows = (overview or {}).get("segments", [])
    frame = pd.DataFrame(rows, columns=SEGMENT_COLUMNS)
    for column in ("revenue", "average_monetary", "share", "revenue_share"):
        frame[column] = [_number(v) for v in frame[column]]
    for column in SEGMENT_COLUMNS[7:]:
        frame[column] = frame[column].astype(float)
    return frame


def grid_frame(grid: dict | None, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """The 25 cells of recency score × frequency score, with the segments in each as text."""
    labels = labels or {}

    def name(slug: str | None) -> str:
        return "" if slug is None else labels.get(slug, fallback_label(slug))

    rows = []
    for cell in (grid or {}).get("cells", []):
        rows.append(
            {
                "recency_score": cell["recency_score"],
                "frequency_score": cell["frequency_score"],
                "customers": cell["customers"],
                "share": float(cell["share"]),
                "revenue": float(cell["revenue"]),
                "segment": cell["segment"] or "",
                "segment_label": name(cell["segment"]),
                "segments_text": ", ".join(
                    f"{name(part['segment'])} {part['customers']:,}" for part in cell["segments"]
                ),
            }
        )
    return pd.DataFrame(rows, columns=GRID_COLUMNS)


def moves_frame(movement: dict | None, labels: dict[str, str] | None = None) -> pd.DataFrame:
    """One row per (from, to) pair with customers, in the API's order (best segments first);
    no RFM on a side is the slug 'none'."""
    labels = labels or {}
    rows = []
    for move in (movement or {}).get("moves", []):
        row: dict[str, Any] = {"customers": move["customers"]}
        for side in ("from", "to"):
            slug = move[f"{side}_segment"]
            row[f"{side}_segment"] = slug or NO_SEGMENT
            row[f"{side}_label"] = (
                NO_SEGMENT_LABELS[side] if slug is None else labels.get(slug, fallback_label(slug))
            )
        rows.append(row)
    return pd.DataFrame(rows, columns=MOVE_COLUMNS)


def cohort_label(start: date | str, period: str) -> str:
    """'2026-01-05', 'week' → 'Week of 05 Jan 2026'; month → 'Jan 2026'; quarter → '2026 Q1'."""
    day = date.fromisoformat(start) if isinstance(start, str) else start
    if period == "week":
        return f"Week of {day:%d %b %Y}"
    if period == "quarter":
        return f"{day.year} Q{(day.month - 1) // 3 + 1}"
    return f"{day:%b %Y}"


def period_end(start: date, period: str) -> date:
    """The first day after the week, month or quarter that starts on `start`."""
    if period == "week":
        return start + timedelta(days=7)
    months = 3 if period == "quarter" else 1
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


def observed_days(start: date | str, period: str, as_of: date | str | None) -> tuple[int, int]:
    """(days observed up to `as_of`, days in the period): the current period is still running
    when the first is smaller."""
    day = date.fromisoformat(start) if isinstance(start, str) else start
    end = period_end(day, period)
    whole = (end - day).days
    if as_of is None:
        return whole, whole
    last = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return max(0, min(whole, (last - day).days + 1)), whole


def cohort_frame(matrix: dict | None) -> pd.DataFrame:
    """The matrix in long form: one row per (cohort, offset); value None when undefined."""
    matrix = matrix or {}
    period = matrix.get("period", "month")
    rows = []
    for cohort in matrix.get("cohorts", []):
        label = cohort_label(cohort["cohort_start"], period)
        for cell in cohort["cells"]:
            seen, whole = observed_days(cell["period_start"], period, matrix.get("as_of"))
            rows.append(
                {
                    "cohort_start": cohort["cohort_start"],
                    "cohort_label": label,
                    "size": cohort["size"],
                    "first_period_revenue": float(cohort["first_period_revenue"]),
                    "offset": cell["offset"],
                    "period_start": cell["period_start"],
                    "customers": cell["customers"],
                    "revenue": float(cell["revenue"]),
                    "value": _number(cell["value"]),
                    "observed_days": seen,
                    "period_days": whole,
                }
            )
    return pd.DataFrame(rows, columns=COHORT_COLUMNS)


class SegmentsStore(Store):
    """GET /segments and GET /segments/grid of one day (None: the API's default day)."""

    as_of = param.CalendarDate(default=None, allow_None=True)

    overview = param.Dict(default=None, allow_None=True, doc="GET /segments")
    grid = param.Dict(default=None, allow_None=True, doc="GET /segments/grid")
    segments = param.DataFrame(default=None, allow_None=True)
    cells = param.DataFrame(default=None, allow_None=True)

    @property
    def currency(self) -> str:
        return self.overview["currency"] if self.overview else ""

    @property
    def labels(self) -> dict[str, str]:
        return segment_labels(self.overview)

    @property
    def answered_as_of(self) -> date | None:
        """The day the API answered for (its default when `as_of` is None)."""
        return date.fromisoformat(self.overview["as_of"]) if self.overview else None

    @property
    def is_empty(self) -> bool:
        return bool(self.overview) and self.overview["customers"] == 0

    @param.depends("as_of", watch=True)
    def _day_changed(self) -> None:
        self.load()

    def _fetch(self) -> dict[str, Any]:
        day = self.as_of.isoformat() if self.as_of else None
        grid = API_CALLS.submit(self.client.segment_grid, day)
        overview = self.client.segments(day)
        grid_answer = grid.result()
        return {
            "overview": overview,
            "grid": grid_answer,
            "segments": segments_frame(overview),
            "cells": grid_frame(grid_answer, segment_labels(overview)),
        }


class SegmentMovementStore(Store):
    """GET /segments/movement between two days; loads once both are set."""

    from_date = param.CalendarDate(default=None, allow_None=True)
    to_date = param.CalendarDate(default=None, allow_None=True)
    labels = param.Dict(default={}, doc="Segment slug → display name")

    movement = param.Dict(default=None, allow_None=True, doc="GET /segments/movement")
    moves = param.DataFrame(default=None, allow_None=True)

    @param.depends("from_date", "to_date", watch=True)
    def _days_changed(self) -> None:
        if self.from_date is not None and self.to_date is not None:
            self.load()

    def _fetch(self) -> dict[str, Any]:
        if self.from_date is None or self.to_date is None:
            return {"movement": None, "moves": moves_frame(None)}
        movement = self.client.segment_movement(
            self.from_date.isoformat(), self.to_date.isoformat()
        )
        return {"movement": movement, "moves": moves_frame(movement, self.labels)}


class CohortsStore(Store):
    """GET /cohorts for a period width and a metric, optionally bounded by start and end.

    `as_of` is the last day observed: the dashboard's pinned today when it has one (the demo
    and the tests), otherwise None and the API takes today in the organisation's time zone.
    """

    period = param.Selector(objects=COHORT_PERIODS, default="month")
    metric = param.Selector(objects=COHORT_METRICS, default="customers")
    start = param.CalendarDate(default=None, allow_None=True)
    end = param.CalendarDate(default=None, allow_None=True)
    as_of = param.CalendarDate(default=None, allow_None=True)

    matrix = param.Dict(default=None, allow_None=True, doc="GET /cohorts")
    cells = param.DataFrame(default=None, allow_None=True)

    @property
    def currency(self) -> str:
        return self.matrix["currency"] if self.matrix else ""

    @property
    def is_empty(self) -> bool:
        """No cohort shown has a customer."""
        return bool(self.matrix) and not any(c["size"] for c in self.matrix["cohorts"])

    @param.depends("period", "metric", "start", "end", watch=True)
    def _query_changed(self) -> None:
        self.load()

    def query(self) -> dict[str, Any]:
        def day(value: date | None) -> str | None:
            return value.isoformat() if value else None

        return {
            "period": self.period,
            "metric": self.metric,
            "start": day(self.start),
            "end": day(self.end),
            "as_of": day(self.as_of),
        }

    def _fetch(self) -> dict[str, Any]:
        query = self.query()
        as_of = query.pop("as_of")
        matrix = self.client.cohorts(**query, as_of=as_of)
        return {"matrix": matrix, "cells": cohort_frame(matrix)}
