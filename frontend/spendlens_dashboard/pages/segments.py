"""The segments page: RFM segments as of a day (headline figures, customers and revenue per
segment, the recency × frequency heatmap and a table of the segments' averages), and how
customers moved between segments from one day to another."""

from __future__ import annotations

import html
from datetime import date, timedelta

import pandas as pd
import panel as pn

from spendlens_dashboard import segment_charts
from spendlens_dashboard.charts import CHART_HEIGHT
from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.components.kpi import KPI_CSS
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.components.table import fitted
from spendlens_dashboard.formatting import format_count, format_money, format_share
from spendlens_dashboard.pages.overview import LiveChart
from spendlens_dashboard.state.analytics import SegmentMovementStore, SegmentsStore
from spendlens_dashboard.state.view import as_day, first

EMPTY_MESSAGE = (
    "No customer has a purchase up to this day, so there is nothing to segment yet. "
    "Pick a later day, or import transactions on the Data page."
)
NO_MOVES_MESSAGE = "No customer has RFM on either day: nothing moved."
MOVEMENT_DAYS = 90
TABLE_TITLES = {
    "label": "Segment",
    "customers": "Customers",
    "share": "Share",
    "revenue": "Revenue",
    "revenue_share": "Revenue share",
    "average_recency_days": "Avg recency (days)",
    "average_frequency": "Avg purchases",
    "average_monetary": "Avg spend",
    "average_r_score": "Avg R",
    "average_f_score": "Avg F",
    "average_m_score": "Avg M",
    "description": "Who",
}
MOVE_TITLES = {"from_label": "From", "to_label": "To", "customers": "Customers"}
BOX = {"border": "1px solid var(--panel-border-color, #e0e0e0)", "border-radius": "8px"}


class FirstDataChart:
    """A LiveChart built when its first data arrives, so Bokeh lays out the first plot with
    that data: a plot first drawn from an empty frame gets numeric axes, and categorical data
    sent to it later fails. Later data is sent to the same plot (updated in place)."""

    def __init__(self, chart, options: dict, css_class: str, **box) -> None:
        self.chart = chart
        self.options = options
        self.css_class = css_class
        self.live: LiveChart | None = None
        # The box the chart appears in (its pane goes straight in: no extra layout level).
        self.pane = pn.Column(min_height=CHART_HEIGHT, **{"margin": 5, "styles": BOX, **box})

    def send(self, frame: pd.DataFrame, **options) -> None:
        if self.live is None:
            self.live = LiveChart(
                self.chart,
                {**self.options, **options},
                sizing_mode="stretch_width",
                css_classes=[self.css_class],
            )
            self.live.send(frame, **{**self.options, **options})  # before the first render
            self.pane[:] = [self.live.pane]
        else:
            self.live.send(frame, **{**self.options, **options})


def _number(value, places: int) -> str:
    return "–" if value is None or pd.isna(value) else f"{value:,.{places}f}"


def segments_table_frame(frame: pd.DataFrame, currency: str) -> pd.DataFrame:
    """The segments with every figure as display text (the columns of TABLE_TITLES)."""
    rows = []
    for row in frame.itertuples(index=False):
        rows.append(
            {
                "label": row.label,
                "customers": format_count(row.customers),
                "share": format_share(row.share),
                "revenue": format_money(row.revenue, currency),
                "revenue_share": format_share(row.revenue_share),
                "average_recency_days": _number(row.average_recency_days, 1),
                "average_frequency": _number(row.average_frequency, 2),
                "average_monetary": format_money(row.average_monetary, currency),
                "average_r_score": _number(row.average_r_score, 2),
                "average_f_score": _number(row.average_f_score, 2),
                "average_m_score": _number(row.average_m_score, 2),
                "description": row.description,
            }
        )
    return pd.DataFrame(rows, columns=list(TABLE_TITLES), dtype=object)


def moves_table_frame(moves: pd.DataFrame) -> pd.DataFrame:
    frame = moves.reindex(columns=["from_label", "to_label", "customers"])
    frame["customers"] = [format_count(v) for v in frame["customers"]]
    return frame.astype(object)


def summary_html(overview: dict | None) -> str:
    """Headline cards of a GET /segments answer, each figure with a data-segments-kpi hook."""
    if not overview:
        figures = [("customers", "Customers with RFM", "…", "")]
    else:
        currency = overview["currency"]
        by_slug = {s["segment"]: s for s in overview["segments"]}
        champions = by_slug.get("champions", {"customers": 0, "share": 0.0})
        risk = [by_slug[s] for s in ("at_risk", "cant_lose_them") if s in by_slug]
        risk_customers = sum(s["customers"] for s in risk)
        risk_revenue = sum(float(s["revenue"]) for s in risk)
        source = (
            f"stored snapshot (settings v{overview['settings_version']})"
            if overview["source"] == "stored"
            else "computed now from the transactions"
        )
        figures = [
            ("customers", "Customers with RFM", format_count(overview["customers"]), source),
            ("revenue", "Their net spend", format_money(overview["revenue"], currency), ""),
            (
                "champions",
                "Champions",
                format_count(champions["customers"]),
                f"{format_share(champions['share'])} of customers",
            ),
            (
                "at_risk",
                "At risk or can't lose",
                format_count(risk_customers),
                f"{format_money(risk_revenue, currency)} spent so far",
            ),
        ]
    cards = "".join(
        f'<div class="kpi" style="flex: 1 1 200px"><div class="kpi-label">{html.escape(label)}'
        f'</div><div class="kpi-value" data-segments-kpi="{key}">{html.escape(value)}</div>'
        f'<div class="kpi-previous">{html.escape(note)}</div></div>'
        for key, label, value, note in figures
    )
    return f'<div style="display: flex; gap: 12px; flex-wrap: wrap">{cards}</div>'


class SegmentsPage(pn.viewable.Viewer):
    title = "Segments"

    def __init__(
        self, store: SegmentsStore, movement: SegmentMovementStore, currency: str = "USD", **params
    ) -> None:
        super().__init__(**params)
        self.store = store
        self.movement = movement
        self.currency = currency
        self.as_of = pn.widgets.DatePicker(label="As of", width=170, css_classes=["segments-as-of"])
        self.as_of.param.watch(self._as_of_picked, "value")
        self.source = pn.pane.Markdown("", margin=(0, 10), css_classes=["segments-source"])
        self.summary = pn.pane.HTML(
            summary_html(None),
            stylesheets=[KPI_CSS],
            sizing_mode="stretch_width",
            css_classes=["segments-summary"],
        )
        self.empty = pn.pane.Alert(
            EMPTY_MESSAGE,
            alert_type="info",
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["segments-empty"],
        )
        # Charts fed through pipes: a new day updates their data in place (see LiveChart).
        money = {"currency": currency}
        self.customers_chart = FirstDataChart(
            segment_charts.segment_bars,
            {**money, "measure": "customers"},
            "segments-customers",
            sizing_mode="stretch_width",
        )
        self.revenue_chart = FirstDataChart(
            segment_charts.segment_bars,
            {**money, "measure": "revenue"},
            "segments-revenue",
            sizing_mode="stretch_width",
        )
        self.heatmap = FirstDataChart(
            segment_charts.rf_heatmap, money, "segments-heatmap", sizing_mode="stretch_width"
        )
        self.table = FrameTabulator(
            segments_table_frame(pd.DataFrame(columns=list(TABLE_TITLES)), currency),
            show_index=False,
            disabled=True,
            titles=TABLE_TITLES,
            css_classes=["segments-table"],
            # "Who" (a sentence) takes what is left; the figures always show whole.
            **fitted(
                {
                    "label": 140,
                    "customers": 85,
                    "share": 62,
                    "revenue": 110,
                    "revenue_share": 72,
                    "average_recency_days": 88,
                    "average_frequency": 80,
                    "average_monetary": 95,
                    "average_r_score": 52,
                    "average_f_score": 52,
                    "average_m_score": 52,
                },
                money=tuple(k for k in TABLE_TITLES if k not in ("label", "description")),
            ),
        )
        self.as_of_view = pn.Column(
            pn.Row(self.as_of, self.source, sizing_mode="stretch_width"),
            self.summary,
            self.empty,
            pn.Row(
                self.customers_chart.pane,
                self.revenue_chart.pane,
                sizing_mode="stretch_width",
                margin=0,
            ),
            self.heatmap.pane,
            pn.pane.Markdown("### Segments"),
            self.table,
            sizing_mode="stretch_width",
        )

        self.move_from = pn.widgets.DatePicker(
            label="From", width=170, css_classes=["movement-from"]
        )
        self.move_to = pn.widgets.DatePicker(label="To", width=170, css_classes=["movement-to"])
        self.move_from.param.watch(lambda e: self._move_day("from_date", e.new), "value")
        self.move_to.param.watch(lambda e: self._move_day("to_date", e.new), "value")
        self.move_note = pn.pane.HTML("", margin=(0, 10), css_classes=["movement-note"])
        self.no_moves = pn.pane.Alert(
            NO_MOVES_MESSAGE, alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        self.move_chart = FirstDataChart(
            segment_charts.movement_heatmap, {}, "movement-heatmap", sizing_mode="stretch_width"
        )
        self.move_table = FrameTabulator(
            moves_table_frame(pd.DataFrame()),
            show_index=False,
            disabled=True,
            titles=MOVE_TITLES,
            css_classes=["movement-table"],
            **fitted({"customers": 110}, money=("customers",), max_height=420),
        )
        self.movement_view = pn.Column(
            pn.pane.Markdown("## Movement between segments"),
            pn.Row(self.move_from, self.move_to, self.move_note, sizing_mode="stretch_width"),
            self.no_moves,
            self.move_chart.pane,
            self.move_table,
            sizing_mode="stretch_width",
            css_classes=["movement-section"],
        )
        self._layout = pn.Column(self.as_of_view, self.movement_view, sizing_mode="stretch_width")
        store.param.watch(DelayedLoading(self.as_of_view), "loading")
        store.param.watch(lambda _: pn.state.execute(self._draw), "loaded")
        movement.param.watch(DelayedLoading(self.movement_view), "loading")
        movement.param.watch(lambda _: pn.state.execute(self._draw_movement), "loaded")
        if store.overview is not None:
            self._draw_now()
        if movement.movement is not None:
            self._draw_movement_now()

    # -- the view in the address bar (see state/view.py) --------------------------------------

    def view_params(self) -> list:
        return [(self.store, ["as_of"])]

    def view_options(self) -> list[tuple[str, str]]:
        day = self.store.as_of
        return [] if day is None else [("as_of", day.isoformat())]

    def restore_view(self, query) -> None:
        day = as_day(first(query, "as_of"))
        if day != self.store.as_of:
            self.store.as_of = day
            if day is not None:
                self.as_of.value = day

    # -- reactions -------------------------------------------------------------------------------

    def _as_of_picked(self, event) -> None:
        # Showing the API's default day in the picker is no new question.
        if event.new is None or event.new == self.store.answered_as_of:
            return
        self.store.as_of = event.new

    def _move_day(self, name: str, value: date | None) -> None:
        if value is not None and getattr(self.movement, name) != value:
            setattr(self.movement, name, value)

    def _draw(self) -> None:
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store = self.store
        overview = store.overview
        if not overview:
            return
        currency = store.currency or self.currency
        as_of = store.answered_as_of
        if self.as_of.value != as_of:
            self.as_of.value = as_of
        self.source.object = f"RFM as of **{as_of:%d %b %Y}** (UTC): " + (
            f"a stored snapshot, scored with settings version {overview['settings_version']}"
            if overview["source"] == "stored"
            else "computed for this page from the transactions, with the current settings"
        )
        self.summary.object = summary_html(overview)
        self.empty.visible = store.is_empty
        self.customers_chart.send(store.segments, measure="customers", currency=currency)
        self.revenue_chart.send(store.segments, measure="revenue", currency=currency)
        self.heatmap.send(store.cells, currency=currency)
        self.table.value = segments_table_frame(store.segments, currency)
        # The movement defaults to the 90 days up to the first day shown.
        if self.movement.to_date is None:
            self.movement.labels = store.labels
            self.move_from.value = as_of - timedelta(days=MOVEMENT_DAYS)
            self.move_to.value = as_of

    def _draw_movement(self) -> None:
        with pn.io.hold():
            self._draw_movement_now()

    def _draw_movement_now(self) -> None:
        movement = self.movement.movement
        if not movement:
            return
        moves = self.movement.moves
        total = int(moves["customers"].sum()) if not moves.empty else 0
        stayed = int(moves.loc[moves["from_segment"] == moves["to_segment"], "customers"].sum())
        sources = {movement["from_source"], movement["to_source"]}
        self.move_note.object = (
            f"<span data-movement-total>{format_count(total)}</span> customers from "
            f"<b>{movement['from_date']}</b> to <b>{movement['to_date']}</b>: "
            f"<span data-movement-stayed>{format_count(stayed)}</span> stayed in their segment"
            + (" (computed now)" if sources == {"computed"} else "")
        )
        self.no_moves.visible = moves.empty
        self.move_chart.send(moves)
        self.move_table.value = moves_table_frame(moves)

    def __panel__(self):
        return self._layout
