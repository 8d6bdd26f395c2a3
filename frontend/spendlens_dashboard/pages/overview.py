"""The overview page: KPI cards and the four charts, all following the sidebar filters.

Each chart is a DynamicMap fed by a Pipe: new data is *sent* to the plot, which updates its
Bokeh data source in place instead of building (and shipping) a new figure on every change.
"""

from __future__ import annotations

from collections.abc import Callable

import holoviews as hv
import pandas as pd
import panel as pn

from spendlens_dashboard import charts
from spendlens_dashboard.components.chart_export import ChartExport, slug_of
from spendlens_dashboard.components.kpi import KpiCards
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.components.theme import bokeh_theme
from spendlens_dashboard.formatting import format_day
from spendlens_dashboard.state import OverviewStore
from spendlens_dashboard.state.view import first, one_of

EMPTY_MESSAGE = "No transactions match these filters. Widen the date range or clear a filter."
# What each chart's CSV holds: the columns of the frame it draws → the CSV's headers.
SERIES_CSV = {
    "period_start": "period_start",
    "total_spend": "total_spend",
    "transaction_count": "purchases",
    "active_customers": "active_customers",
    "days": "days",
    "partial": "partial",
}
CATEGORY_CSV = {
    "label": "category",
    "total_spend": "total_spend",
    "transaction_count": "purchases",
    "share": "share",
}
MERCHANT_CSV = {**CATEGORY_CSV, "label": "merchant"}


class LiveChart:
    """A chart function bound to a Pipe: `send(frame, **options)` redraws it in place.

    With `on_pick`, a click on the chart calls `on_pick(label)` with what was clicked (a bar's
    or a wedge's label, found by `pick(element, x, y)` in the element drawn last)."""

    def __init__(
        self,
        chart: Callable[..., hv.Element],
        options: dict,
        *,
        on_pick: Callable[[str], None] | None = None,
        pick: Callable[[hv.Element, object, object], str | None] | None = None,
        **pane_options,
    ) -> None:
        self.chart = chart
        self.frame: pd.DataFrame | None = None  # the data drawn last (the CSV export's)
        self.on_pick = on_pick
        self.pick = pick
        # Plot-wide settings (axis formatter, labels) come from the first element drawn, so the
        # empty first frame already carries the organisation's currency.
        self.pipe = hv.streams.Pipe(data={"frame": pd.DataFrame(), "options": options})
        self.pane = pn.pane.HoloViews(
            self._dynamic_map(),
            # The charts share dimension names (total_spend) but not their scales.
            linked_axes=False,
            **pane_options,
        )

    def _dynamic_map(self) -> hv.DynamicMap:
        def draw(data):
            return self.chart(data["frame"], **data.get("options", {}))

        dynamic = hv.DynamicMap(draw, streams=[self.pipe])
        if self.on_pick is not None and self.pick is not None:
            tap = hv.streams.SingleTap(source=dynamic)
            tap.add_subscriber(lambda x, y: self._tapped(dynamic, x, y))
        return dynamic

    def _tapped(self, dynamic: hv.DynamicMap, x, y) -> None:
        if x is None or y is None or dynamic.last is None:
            return
        label = self.pick(dynamic.last, x, y)
        if label:
            self.on_pick(label)

    def send(self, frame: pd.DataFrame, **options) -> None:
        self.frame = frame
        self.pipe.send({"frame": frame, "options": options})

    def restyle(self, theme) -> None:
        """A new Bokeh theme needs a new plot: rebuild it around the same pipe."""
        self.pane.theme = theme
        self.pane.object = self._dynamic_map()


class OverviewPage(pn.viewable.Viewer):
    title = "Overview"

    def __init__(
        self,
        store: OverviewStore,
        colors: dict[str, str],
        currency: str = "USD",
        merchant_categories: dict[str, str] | None = None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.store = store
        self.colors = colors
        self.merchant_categories = merchant_categories or {}
        self.kpis = KpiCards()
        self.interval = pn.widgets.RadioButtonGroup(
            label="Interval",
            options={"Day": "day", "Week": "week", "Month": "month"},
            value=store.interval,
            color="light",
            variant="outline",
            width=220,
        )
        self.interval.link(store, value="interval")
        self.empty = pn.pane.Alert(
            EMPTY_MESSAGE, alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        self.period = pn.pane.Markdown("", margin=(0, 10))
        self.partial_note = pn.pane.Markdown(
            "○ Hollow points are weeks or months the date range covers only in part: their "
            "totals count only those days (hover a point for how many).",
            visible=False,
            margin=(0, 10),
            css_classes=["partial-note"],
            styles={"font-size": "0.85rem", "opacity": "0.8"},
        )
        money = {"currency": currency}
        self.spend_over_time = LiveChart(
            charts.spend_over_time,
            {**money, "interval": store.interval},
            sizing_mode="stretch_width",
        )
        # Drill-down: a click on a bar or a wedge filters everything to it.
        by_category = {"on_pick": self.filter_category}
        self.spend_by_category = LiveChart(
            charts.spend_by_category,
            {**money, "colors": colors},
            pick=charts.bar_at,
            **by_category,
            sizing_mode="stretch_width",
        )
        self.category_share = LiveChart(
            charts.category_share, {**money, "colors": colors}, pick=charts.wedge_at, **by_category
        )
        self.top_merchants = LiveChart(
            charts.top_merchants,
            {**money, "colors": colors},
            pick=charts.bar_at,
            on_pick=self.filter_merchant,
            sizing_mode="stretch_width",
        )
        self.live_charts = [
            self.spend_over_time,
            self.spend_by_category,
            self.category_share,
            self.top_merchants,
        ]
        self.charts = [chart.pane for chart in self.live_charts]
        # PNG and CSV of each chart, above it.
        self.exports = {
            key: ChartExport(
                charts.TITLES[key],
                lambda chart=chart: chart.frame,
                columns,
                filename=lambda key=key: self._export_name(key),
            )
            for key, chart, columns in (
                ("spend_over_time", self.spend_over_time, SERIES_CSV),
                ("spend_by_category", self.spend_by_category, CATEGORY_CSV),
                ("category_share", self.category_share, CATEGORY_CSV),
                ("top_merchants", self.top_merchants, MERCHANT_CSV),
            )
        }
        # Plain boxes, not Cards: every extra layout model is work for the browser.
        box = {"border": "1px solid var(--panel-border-color, #e0e0e0)", "border-radius": "8px"}
        self._layout = pn.Column(
            self.period,
            self.kpis,
            self.empty,
            pn.Row(pn.HSpacer(), self.interval, sizing_mode="stretch_width"),
            pn.Column(
                self.exports["spend_over_time"],
                self.spend_over_time.pane,
                styles=box,
                sizing_mode="stretch_width",
                margin=5,
            ),
            self.partial_note,
            pn.FlexBox(
                pn.Column(
                    self.exports["spend_by_category"],
                    self.spend_by_category.pane,
                    styles={**box, "flex": "2 1 420px"},
                    margin=5,
                ),
                pn.Column(
                    self.exports["category_share"],
                    self.category_share.pane,
                    styles={**box, "flex": "1 1 300px"},
                    margin=5,
                ),
                sizing_mode="stretch_width",
                margin=0,
            ),
            pn.Column(
                self.exports["top_merchants"],
                self.top_merchants.pane,
                styles=box,
                sizing_mode="stretch_width",
                margin=5,
            ),
            sizing_mode="stretch_width",
        )
        store.param.watch(DelayedLoading(self._layout), "loading")
        store.param.watch(self._data_changed, "loaded")
        if store.summary is not None:
            self._draw_now()  # nothing is on screen yet: no lock needed

    # -- drill-down ----------------------------------------------------------------------------

    def filter_category(self, category: str) -> None:
        """Only this category, everywhere (a click on its bar or wedge)."""
        if self.store.filters.categories != [category]:
            self.store.filters.categories = [category]

    def filter_merchant(self, merchant: str) -> None:
        """Only this merchant, everywhere (a click on its bar)."""
        if self.store.filters.merchants != [merchant]:
            self.store.filters.merchants = [merchant]

    def _export_name(self, key: str) -> str:
        """'spendlens-top-merchants-2026-06-01-to-2026-06-30' (without extension)."""
        name = f"spendlens-{slug_of(charts.TITLES[key])}"
        summary = self.store.summary
        if summary is None:
            return name
        period = summary["period"]
        return f"{name}-{period['start_date']}-to-{period['end_date']}"

    # -- the view in the address bar (see state/view.py) --------------------------------------

    def view_params(self) -> list:
        return [(self.store, ["interval"])]

    def view_options(self) -> list[tuple[str, str]]:
        return [] if self.store.interval == "day" else [("interval", self.store.interval)]

    def restore_view(self, query) -> None:
        self.interval.value = one_of(first(query, "interval"), ("day", "week", "month"), "day")

    def set_theme(self, dark: bool) -> None:
        theme = bokeh_theme(dark)
        for chart in self.live_charts:
            chart.restyle(theme)

    def _data_changed(self, *_events) -> None:
        # Stores finish on worker threads; the plots must change under the document lock.
        pn.state.execute(self._draw)

    def _draw(self) -> None:
        # One hold: the KPIs and all four plots reach the browser as one message, laid out once.
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store = self.store
        currency = store.currency
        self.kpis.show(store.summary)
        period = store.summary["period"]
        previous = store.summary["previous_period"]
        self.period.object = (
            f"**{format_day(period['start_date'])} – {format_day(period['end_date'])}** (UTC), "
            f"compared with {format_day(previous['start_date'])} – "
            f"{format_day(previous['end_date'])}"
        )
        self.empty.visible = store.is_empty
        self.spend_over_time.send(store.timeseries, interval=store.interval, currency=currency)
        self.partial_note.visible = bool(store.timeseries["partial"].any())
        for chart, frame in (
            (self.spend_by_category, store.categories),
            (self.category_share, store.categories),
            (self.top_merchants, self._with_categories(store.merchants)),
        ):
            chart.send(frame, currency=currency, colors=self.colors)

    def _with_categories(self, merchants: pd.DataFrame) -> pd.DataFrame:
        """Merchants coloured by their default category, like the category charts."""
        return merchants.assign(
            category=[self.merchant_categories.get(m, "") for m in merchants["label"]]
        )

    def __panel__(self):
        return self._layout
