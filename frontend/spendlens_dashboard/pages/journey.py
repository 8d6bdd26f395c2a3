"""The Journey page: customers per lifecycle stage now (cards) and over time (stacked areas), the
funnel of the customers first seen in the sidebar's period (conversion, median and p90 time to
convert), and the Sankey of the flows between the stages at the period's two ends.

Figures carry data-journey hooks (`stage-lead`, `funnel-customer`, `flow-lead-customer`, ...)."""

from __future__ import annotations

import html

import pandas as pd
import panel as pn

from spendlens_dashboard import journey_charts
from spendlens_dashboard.components.frame_table import FrameTabulator
from spendlens_dashboard.components.kpi import KPI_CSS
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.components.table import ApiPagedTabulator
from spendlens_dashboard.formatting import format_count, format_share
from spendlens_dashboard.journey_charts import duration_text
from spendlens_dashboard.state.journey import (
    CustomerEventsStore,
    CustomerStagesStore,
    JourneyStore,
    events_frame,
    history_frame,
    when,
)

EMPTY_MESSAGE = (
    "No customer has a lifecycle stage yet: stages are derived from the events your systems send "
    "to POST /events (or their rebuild is still running)."
)
INTERVALS = {"Day": "day", "Week": "week", "Month": "month"}
# The documented event types (README, "Events"), for the customer page's type filter.
EVENT_TYPE_CHOICES = [
    "signed_up",
    "plan_selected",
    "shop_created",
    "payment_succeeded",
    "payment_failed",
    "shop_deleted",
    "account_deleted",
    "login",
    "feature_used",
    "support_ticket_opened",
    "support_ticket_closed",
]
BOX = {"border": "1px solid var(--panel-border-color, #e0e0e0)", "border-radius": "8px"}
STAGE_TITLES = {
    "lead": "Leads",
    "prospect": "Prospects",
    "customer": "Customers",
    "churned": "Churned",
}
FUNNEL_TITLES = {
    "stage": "Step",
    "customers": "Customers",
    "conversion": "Conversion",
    "conversion_from_lead": "From lead",
    "median": "Median time",
    "p90": "90th percentile",
}
FLOW_TITLES = {"from_stage": "From (start)", "to_stage": "To (end)", "customers": "Customers"}


def stage_cards_html(stages: dict | None) -> str:
    """One card per stage: customers and share of the total ('…' while nothing is loaded)."""
    cards = []
    counts = {s["stage"]: s for s in (stages or {}).get("stages", [])}
    for stage, title in STAGE_TITLES.items():
        item = counts.get(stage)
        value = format_count(item["customers"]) if item else "…"
        share = f"{format_share(item['share'])} of all" if item else ""
        cards.append(
            f'<div class="kpi" style="flex: 1">'
            f'<div class="kpi-label">{html.escape(title)}</div>'
            f'<div class="kpi-value" data-journey="stage-{stage}">{html.escape(value)}</div>'
            f'<div class="kpi-change flat">{html.escape(share)}</div></div>'
        )
    return f'<div style="display: flex; gap: 12px;">{"".join(cards)}</div>'


def funnel_table_frame(funnel: dict | None) -> pd.DataFrame:
    rows = []
    for step in (funnel or {}).get("steps", []):
        rows.append(
            {
                "stage": step["stage"],
                "customers": format_count(step["customers"]),
                "conversion": (
                    "–" if step["conversion"] is None else format_share(step["conversion"])
                ),
                "conversion_from_lead": (
                    "–"
                    if step["conversion_from_lead"] is None
                    else format_share(step["conversion_from_lead"])
                ),
                "median": duration_text(step["median_seconds"]),
                "p90": duration_text(step["p90_seconds"]),
            }
        )
    return pd.DataFrame(rows, columns=list(FUNNEL_TITLES)).astype(object)


def flows_table_frame(flows: dict | None) -> pd.DataFrame:
    rows = [
        {
            "from_stage": link["from_stage"],
            "to_stage": link["to_stage"],
            "customers": format_count(link["customers"]),
        }
        for link in (flows or {}).get("links", [])
    ]
    return pd.DataFrame(rows, columns=list(FLOW_TITLES)).astype(object)


def summary_html(store: JourneyStore) -> str:
    if not store.flows or not store.stages:
        return ""
    flows, stages = store.flows, store.stages
    return (
        f'<span data-journey="total">{format_count(stages["total"])}</span> customers with a '
        f"stage at <b>{html.escape(stages['as_of'][:16].replace('T', ' '))}</b> UTC. Funnel of "
        f"the customers first seen from <b>{html.escape(store.funnel['start'])}</b> to "
        f"<b>{html.escape(store.funnel['end'])}</b>; flows from "
        f"<b>{html.escape(flows['start'][:16].replace('T', ' '))}</b> to "
        f"<b>{html.escape(flows['end'][:16].replace('T', ' '))}</b> UTC "
        f'(<span data-journey="flow-total">{format_count(flows["total"])}</span> customers).'
    )


def _table(frame: pd.DataFrame, titles: dict, css: str) -> FrameTabulator:
    return FrameTabulator(
        frame,
        show_index=False,
        disabled=True,
        selectable=False,
        sortable=False,
        layout="fit_data_stretch",
        sizing_mode="stretch_width",
        titles=titles,
        css_classes=[css],
    )


class JourneyPage(pn.viewable.Viewer):
    title = "Journey"

    def __init__(self, store: JourneyStore, **params) -> None:
        super().__init__(**params)
        self.store = store
        self.interval = pn.widgets.Select(
            label="Interval", options=INTERVALS, value=store.interval, width=140
        )
        self.interval.link(store, value="interval")
        # Empty: no limit (the funnel counts every conversion, however late).
        self.within_days = pn.widgets.IntInput(
            label="Converted within (days)",
            value=store.within_days,
            start=0,
            end=3650,
            placeholder="no limit",
            width=180,
            css_classes=["journey-within-days"],
        )
        self.within_days.link(store, value="within_days")
        self.cards = pn.pane.HTML(
            stage_cards_html(None),
            sizing_mode="stretch_width",
            stylesheets=[KPI_CSS],
            css_classes=["journey-stages"],
        )
        self.summary = pn.pane.HTML(
            "", sizing_mode="stretch_width", css_classes=["journey-summary"]
        )
        self.empty = pn.pane.Alert(
            EMPTY_MESSAGE,
            alert_type="info",
            visible=False,
            sizing_mode="stretch_width",
            css_classes=["journey-empty"],
        )
        self.over_time = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", linked_axes=False, css_classes=["journey-over-time"]
        )
        self.funnel_chart = pn.pane.HoloViews(
            None, sizing_mode="stretch_width", linked_axes=False, css_classes=["journey-funnel"]
        )
        self.sankey = pn.pane.HoloViews(None, linked_axes=False, css_classes=["journey-sankey"])
        self.funnel_table = _table(funnel_table_frame(None), FUNNEL_TITLES, "journey-funnel-table")
        self.flows_table = _table(flows_table_frame(None), FLOW_TITLES, "journey-flows-table")
        # Shown and hidden as a whole (toggling a HoloViews pane itself upsets its Bokeh figure).
        self.charts = pn.Column(
            pn.Column(self.over_time, styles=BOX, sizing_mode="stretch_width", margin=5),
            pn.pane.Markdown("### Funnel"),
            pn.Row(
                pn.Column(self.funnel_chart, styles=BOX, sizing_mode="stretch_width", margin=5),
                self.funnel_table,
                sizing_mode="stretch_width",
            ),
            pn.pane.Markdown("### Flows between stages"),
            pn.Column(self.sankey, styles=BOX, margin=5),
            self.flows_table,
            sizing_mode="stretch_width",
            css_classes=["journey-charts"],
        )
        self._layout = pn.Column(
            pn.pane.Markdown("### Customers per stage now"),
            self.cards,
            pn.FlexBox(self.interval, self.within_days),
            self.summary,
            self.empty,
            self.charts,
            sizing_mode="stretch_width",
        )
        store.param.watch(DelayedLoading(self._layout), "loading")
        store.param.watch(lambda _: pn.state.execute(self._draw), "loaded")
        if store.stages is not None:
            self._draw_now()

    def _draw(self) -> None:
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store = self.store
        if not store.stages:
            return
        self.cards.object = stage_cards_html(store.stages)
        self.summary.object = summary_html(store)
        self.empty.visible = store.is_empty
        self.charts.visible = not store.is_empty
        self.over_time.object = journey_charts.stages_over_time(store.timeseries)
        self.funnel_chart.object = journey_charts.funnel_bars(store.funnel)
        self.sankey.object = journey_charts.flows_sankey(store.flows)
        self.funnel_table.value = funnel_table_frame(store.funnel)
        self.flows_table.value = flows_table_frame(store.flows)

    def __panel__(self):
        return self._layout


HISTORY_TITLES = {
    "stage": "Stage",
    "valid_from": "From (UTC)",
    "valid_to": "To",
    "reactivation": "Reactivation",
}
EVENT_TITLES = {
    "occurred_at": "When (UTC)",
    "type": "Type",
    "event_id": "Event id",
    "properties": "Properties",
}


def milestones_html(history: dict | None) -> str:
    """The customer's stage now and milestones, with data-customer-journey hooks."""
    if not history:
        return ""
    if history["stage"] is None:
        return '<span data-customer-journey="stage">No events yet: no derived stage.</span>'
    parts = [
        f'Stage now: <b data-customer-journey="stage">{html.escape(history["stage"])}</b>',
    ]
    for key, label in (
        ("first_seen_at", "first seen"),
        ("prospect_at", "prospect"),
        ("customer_at", "customer"),
    ):
        if history.get(key):
            parts.append(f"{label} {html.escape(when(history[key]))}")
    parts.append(f"reactivations {history['reactivations']}")
    if history["pending"]:
        parts.append("<i>newer events are still being applied</i>")
    return " · ".join(parts)


class CustomerJourney(pn.viewable.Viewer):
    """The customer page's journey section: stage history (oldest first) and the events, newest
    first, a page at a time."""

    def __init__(self, stages: CustomerStagesStore, events: CustomerEventsStore, **params) -> None:
        super().__init__(**params)
        self.stages, self.events = stages, events
        self.milestones = pn.pane.HTML("", css_classes=["customer-milestones"])
        self.history = _table(history_frame(None), HISTORY_TITLES, "customer-stages")
        self.event_table = ApiPagedTabulator(
            events_frame(None),
            page_size=events.page_size,
            show_index=False,
            disabled=True,
            selectable=False,
            sortable=False,  # newest first, paged by the API
            titles=EVENT_TITLES,
            formatters={"event_id": {"type": "plaintext"}},
            layout="fit_data_stretch",
            sizing_mode="stretch_width",
            css_classes=["customer-events"],
        )
        self.event_count = pn.pane.Markdown("", css_classes=["customer-events-count"])
        self.event_types = pn.widgets.MultiChoice(
            label="Event types (empty: all)",
            options=EVENT_TYPE_CHOICES,
            value=list(events.types),
            placeholder="all types",
            width=420,
            css_classes=["customer-event-types"],
        )
        self.event_types.link(events, value="types")
        self.event_table.param.watch(self._page_chosen, "page")
        self._layout = pn.Column(
            pn.pane.Markdown("### Lifecycle stages"),
            self.milestones,
            self.history,
            pn.pane.Markdown("### Events"),
            self.event_types,
            self.event_count,
            self.event_table,
            sizing_mode="stretch_width",
        )
        stages.param.watch(lambda _: pn.state.execute(self._draw_stages), "loaded")
        events.param.watch(lambda _: pn.state.execute(self._draw_events), "loaded")

    def show(self, customer_id: int) -> None:
        """Load the stages and the first page of events of `customer_id` (again if shown)."""
        if self.stages.customer_id == customer_id:
            self.stages.load()
        else:
            self.stages.customer_id = customer_id
        if self.events.customer_id == customer_id:
            self.events.first_page()
        else:
            self.events.customer_id = customer_id

    def _page_chosen(self, event) -> None:
        if event.new != self.events.page:
            self.events.page = event.new

    def _draw_stages(self) -> None:
        with pn.io.hold():
            self.milestones.object = milestones_html(self.stages.history)
            self.history.value = history_frame(self.stages.history)

    def _draw_events(self) -> None:
        events = self.events
        with pn.io.hold():
            self.event_count.object = (
                f"**{format_count(events.total)}** events, newest first · page {events.page} "
                f"of {events.page_count}"
            )
            self.event_table.show_page(events.items, events.total, events.page)

    def __panel__(self):
        return self._layout
