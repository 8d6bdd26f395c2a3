"""The cohorts page: customers grouped by the period of their first purchase, followed period by
period — a retention heatmap and a table of the cohorts (size, first-period revenue and the
value of every period after it)."""

from __future__ import annotations


import pandas as pd
import panel as pn

from spendlens_dashboard import segment_charts
from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.components.table import fitted
from spendlens_dashboard.formatting import format_count, format_day, format_money, format_share
from spendlens_dashboard.segment_charts import PARTIAL_MARK
from spendlens_dashboard.state.analytics import CohortsStore, cohort_label, observed_days
from spendlens_dashboard.state.view import as_day, first, one_of

EMPTY_MESSAGE = (
    "No customer made a first purchase in these periods: there are no cohorts to follow. "
    "Choose an earlier start or a wider period."
)
PERIODS = {"Week": "week", "Month": "month", "Quarter": "quarter"}
METRICS = {"Customers active": "customers", "Revenue vs first period": "revenue"}
PERIOD_NOUNS = {"week": "weeks", "month": "months", "quarter": "quarters"}
BOX = {"border": "1px solid var(--panel-border-color, #e0e0e0)", "border-radius": "8px"}
FIXED_TITLES = {"cohort": "Cohort", "size": "Customers", "first_period_revenue": "First period"}


def offset_field(offset: int) -> str:
    return f"p{offset}"


def cohorts_table_frame(matrix: dict | None) -> pd.DataFrame:
    """One row per cohort (oldest first): its label, size, first-period revenue, and the value of
    each period after it as a percentage (p0, p1, …; '–' when undefined, blank past as_of)."""
    matrix = matrix or {}
    period = matrix.get("period", "month")
    currency = matrix.get("currency", "USD")
    cohorts = matrix.get("cohorts", [])
    width = max((len(c["cells"]) for c in cohorts), default=1)
    columns = list(FIXED_TITLES) + [offset_field(k) for k in range(width)]
    rows = []
    for cohort in cohorts:
        row = {
            "cohort": cohort_label(cohort["cohort_start"], period),
            "size": format_count(cohort["size"]),
            "first_period_revenue": format_money(cohort["first_period_revenue"], currency),
        }
        for cell in cohort["cells"]:
            value = cell["value"]
            seen, whole = observed_days(cell["period_start"], period, matrix.get("as_of"))
            text = "–" if value is None else format_share(value)
            row[offset_field(cell["offset"])] = text + (PARTIAL_MARK if seen < whole else "")
        rows.append(row)
    return pd.DataFrame(rows, columns=columns).fillna("").astype(object)


def table_titles(frame: pd.DataFrame) -> dict[str, str]:
    titles = dict(FIXED_TITLES)
    for column in frame.columns:
        if column.startswith("p") and column[1:].isdigit():
            titles[column] = f"+{column[1:]}"
    return titles


def summary_html(matrix: dict | None) -> str:
    """One line on what is shown, with data-cohorts hooks on its figures."""
    if not matrix:
        return ""
    cohorts = matrix["cohorts"]
    customers = sum(c["size"] for c in cohorts)
    nouns = PERIOD_NOUNS[matrix["period"]]
    what = (
        "share of each cohort buying again in the periods after its first"
        if matrix["metric"] == "customers"
        else "each cohort's net spend per period against its first period's"
    )
    return (
        f'<span data-cohorts="count">{len(cohorts)}</span> cohorts by {matrix["period"]} '
        f'(<span data-cohorts="customers">{format_count(customers)}</span> customers), '
        f"first purchases from <b>{format_day(matrix['start'])}</b> to "
        f"<b>{format_day(matrix['end'])}</b>, observed up to "
        f'<b data-cohorts="as_of">{format_day(matrix["as_of"])}</b>, in {nouns} since the '
        f"first purchase. Values: {what}.{running_note(matrix)}"
    )


def running_note(matrix: dict) -> str:
    """What the star on the current period's cells means, when a period is still running."""
    as_of = matrix.get("as_of")
    starts = {cell["period_start"] for c in matrix["cohorts"] for cell in c["cells"]}
    for start in sorted(starts, reverse=True):
        seen, whole = observed_days(start, matrix["period"], as_of)
        if seen < whole:
            return (
                f' <span class="cohorts-running">{PARTIAL_MARK} The {matrix["period"]} of '
                f"{format_day(start)} is still running: {seen} of {whole} days so far, so its "
                "figures are not yet comparable with whole periods.</span>"
            )
    return ""


class CohortsPage(pn.viewable.Viewer):
    title = "Cohorts"

    def __init__(self, store: CohortsStore, currency: str = "USD", **params) -> None:
        super().__init__(**params)
        self.store = store
        self.currency = currency
        self.period = pn.widgets.Select(
            label="Period", options=PERIODS, value=store.period, width=140
        )
        self.metric = pn.widgets.Select(
            label="Metric", options=METRICS, value=store.metric, width=200
        )
        self.period.link(store, value="period")
        self.metric.link(store, value="metric")
        self.start = pn.widgets.DatePicker(
            label="First cohort (optional)", width=170, css_classes=["cohorts-start"]
        )
        self.end = pn.widgets.DatePicker(
            label="Last cohort (optional)", width=170, css_classes=["cohorts-end"]
        )
        self.start.link(store, value="start")
        self.end.link(store, value="end")
        self.clear = pn.widgets.Button(label="Default range", align="end", width=130)
        self.clear.on_click(lambda _: self._clear_range())
        self.summary = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["cohorts-summary"]
        )
        self.empty = pn.pane.Alert(
            EMPTY_MESSAGE,
            alert_type="info",
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["cohorts-empty"],
        )
        self.heatmap = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", linked_axes=False, css_classes=["cohorts-heatmap"]
        )
        first = cohorts_table_frame(None)
        self.table = FrameTabulator(
            first,
            show_index=False,
            disabled=True,
            titles=table_titles(first),
            css_classes=["cohorts-table"],
            # The period columns share what is left (a week's many periods may scroll).
            **fitted(
                {"cohort": 120, "size": 78, "first_period_revenue": 105},
                money=("size", "first_period_revenue"),
            ),
        )
        # Shown and hidden as a whole (toggling a HoloViews pane itself upsets its Bokeh figure).
        self.chart_box = pn.Column(
            self.heatmap,
            styles=BOX,
            sizing_mode="stretch_width",
            margin=5,
            css_classes=["cohorts-chart"],
        )
        self._layout = pn.Column(
            pn.FlexBox(self.period, self.metric, self.start, self.end, self.clear),
            self.summary,
            self.empty,
            self.chart_box,
            pn.pane.Markdown("### Cohorts"),
            self.table,
            sizing_mode="stretch_width",
        )
        store.param.watch(DelayedLoading(self._layout), "loading")
        store.param.watch(lambda _: pn.state.execute(self._draw), "loaded")
        if store.matrix is not None:
            self._draw_now()

    # -- the view in the address bar (see state/view.py) --------------------------------------

    def view_params(self) -> list:
        return [(self.store, ["period", "metric", "start", "end"])]

    def view_options(self) -> list[tuple[str, str]]:
        store, options = self.store, []
        if store.period != "month":
            options.append(("period", store.period))
        if store.metric != "customers":
            options.append(("metric", store.metric))
        for key, day in (("first", store.start), ("last", store.end)):
            if day is not None:
                options.append((key, day.isoformat()))
        return options

    def restore_view(self, query) -> None:
        store = self.store
        with pn.io.hold():
            self.period.value = one_of(first(query, "period"), store.param.period.objects, "month")
            self.metric.value = one_of(
                first(query, "metric"), store.param.metric.objects, "customers"
            )
            self.start.value = as_day(first(query, "first"))
            self.end.value = as_day(first(query, "last"))

    def _clear_range(self) -> None:
        with pn.io.hold():
            self.start.value = None
            self.end.value = None

    def _draw(self) -> None:
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store = self.store
        matrix = store.matrix
        if not matrix:
            return
        self.summary.object = summary_html(matrix)
        self.empty.visible = store.is_empty
        self.chart_box.visible = not store.is_empty
        self.heatmap.object = segment_charts.cohort_heatmap(
            store.cells, metric=matrix["metric"], currency=store.currency or self.currency
        )
        frame = cohorts_table_frame(matrix)
        self.table.titles = table_titles(frame)
        self.table.text_align = {c: "right" for c in frame.columns if c != "cohort"}
        self.table.value = frame

    def __panel__(self):
        return self._layout
