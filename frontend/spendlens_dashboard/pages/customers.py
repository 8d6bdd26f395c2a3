"""The customers page: search and filters, a table sorted and paged by the API, and one customer's
page (totals, spend per month and the latest transactions) opened from the table."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import date

import pandas as pd
import panel as pn
import param

from spendlens_dashboard.components.frame_table import FrameTabulator

from spendlens_dashboard import charts
from spendlens_dashboard.components.loading import DelayedLoading
from spendlens_dashboard.components.table import ApiPagedTabulator, fitted
from spendlens_dashboard.formatting import format_count, format_money, safe_text
from spendlens_dashboard.state.clv import format_fixed, format_percent
from spendlens_dashboard.state.analytics import SEGMENT_LABELS, observed_days
from spendlens_dashboard.state.view import as_day, as_int, as_list, first, one_of
from spendlens_dashboard.state.customers import (
    LIFECYCLE_STAGES,
    CustomerDetailStore,
    CustomersStore,
    customers_frame,
    parse_countries,
)

EMPTY_MESSAGE = "No customers match this search and these filters."
SORTABLE = {
    "name": "name",
    "signup_date": "signup",
    "total_spend": "total_spend",
    "last_purchase": "last_purchase",
    "clv": "clv",
}
TITLES = {
    "id": "ID",
    "external_id": "External ID",
    "name": "Name",
    "country": "Country",
    "lifecycle_stage": "Stage",
    "segment": "Segment",
    "total_spend": "Total spend",
    "transaction_count": "Purchases",
    "last_purchase": "Last purchase",
    "clv": "CLV",
    "p_alive": "P(alive)",
    "signup_date": "Signed up",
}
RECENT_COLUMNS = ["id", "occurred_at", "merchant", "category", "description", "kind", "amount"]
RECENT_TITLES = {
    "id": "ID",
    "occurred_at": "When (UTC)",
    "merchant": "Merchant",
    "category": "Category",
    "description": "Description",
    "kind": "Kind",
    "amount": "Amount",
}
DETAIL_CSS = """
.customer-totals { display: flex; gap: 16px; flex-wrap: wrap; }
.customer-total { padding: 10px 14px; border-radius: 8px; min-width: 170px;
                  border: 1px solid var(--panel-border-color, #ddd); }
.customer-total .label { font-size: 0.8rem; opacity: 0.75; text-transform: uppercase; }
.customer-total .value { font-size: 1.4rem; font-weight: 600; }
.customer-scores { display: flex; gap: 16px; flex-wrap: wrap; margin-top: 8px; }
.customer-score { padding: 10px 14px; border-radius: 8px; flex: 1 1 320px;
                  border: 1px solid var(--panel-border-color, #ddd); }
.customer-score h4 { margin: 0 0 6px; font-size: 1rem; }
.customer-score dl { display: grid; grid-template-columns: auto 1fr; gap: 2px 12px; margin: 0; }
.customer-score dt { font-weight: 400; opacity: 0.75; }
.customer-score dd { margin: 0; font-weight: 600; }
.customer-score .missing, .customer-score .source { opacity: 0.75; font-size: 0.85rem; }
"""


def api_sort(sorters: list[dict]) -> str:
    """Tabulator's sorters → the API's sort parameter."""
    for sorter in sorters or []:
        field = SORTABLE.get(sorter.get("field", ""))
        if field:
            return field if sorter.get("dir") == "asc" else f"-{field}"
    return "name"


def totals_html(detail: dict, currency: str) -> str:
    """The customer's headline figures, each with a data-customer-total attribute (tests)."""
    figures = [
        ("total_spend", "Total spend", format_money(detail.get("total_spend"), currency)),
        ("transaction_count", "Transactions", format_count(detail.get("transaction_count"))),
        ("first_purchase", "First purchase", (detail.get("first_purchase") or "–")[:10]),
        ("last_purchase", "Last purchase", (detail.get("last_purchase") or "–")[:10]),
    ]
    cards = "".join(
        f'<div class="customer-total"><div class="label">{label}</div>'
        f'<div class="value" data-customer-total="{key}">{html.escape(value)}</div></div>'
        for key, label, value in figures
    )
    return f'<div class="customer-totals">{cards}</div>'


def _score_card(title: str, attribute: str, rows: list[tuple[str, str, str]], source: str) -> str:
    items = "".join(
        f'<dt>{html.escape(label)}</dt><dd {attribute}="{key}">{html.escape(value)}</dd>'
        for key, label, value in rows
    )
    return (
        f'<div class="customer-score"><h4>{html.escape(title)}</h4><dl>{items}</dl>'
        f'<div class="source">{html.escape(source)}</div></div>'
    )


def _missing_card(title: str, attribute: str, text: str) -> str:
    return (
        f'<div class="customer-score"><h4>{html.escape(title)}</h4>'
        f'<p class="missing" {attribute}-missing>{html.escape(text)}</p></div>'
    )


def scores_html(detail: dict, currency: str) -> str:
    """The customer's RFM (latest stored snapshot) and lifetime value (latest CLV fit), each
    figure with a data-customer-rfm / data-customer-clv attribute (tests); a note when absent."""
    rfm, clv = detail.get("rfm"), detail.get("clv")
    if rfm:
        rfm_card = _score_card(
            "RFM segment",
            "data-customer-rfm",
            [
                ("segment", "Segment", rfm["segment_label"]),
                ("r_score", "Recency score", str(rfm["r_score"])),
                ("f_score", "Frequency score", str(rfm["f_score"])),
                ("m_score", "Monetary score", str(rfm["m_score"])),
                ("recency_days", "Days since last purchase", format_count(rfm["recency_days"])),
                ("frequency", "Purchases", format_count(rfm["frequency"])),
                ("monetary", "Net spend", format_money(rfm["monetary"], currency)),
            ],
            f"Scores 1–5 (5 best) as of {rfm['as_of']}.",
        )
    else:
        rfm_card = _missing_card(
            "RFM segment",
            "data-customer-rfm",
            "RFM not computed yet: it appears after the next segments recompute.",
        )
    if clv:
        clv_card = _score_card(
            "Lifetime value",
            "data-customer-clv",
            [
                ("p_alive", "P(alive)", format_percent(clv["p_alive"])),
                (
                    "expected_purchases",
                    f"Expected purchases, next {clv['purchases_horizon_days']} days",
                    format_fixed(clv["expected_purchases"]),
                ),
                (
                    "expected_spend",
                    "Spend per purchase",
                    format_money(clv["expected_spend"], currency),
                ),
                (
                    "clv",
                    f"Lifetime value, next {clv['clv_horizon_days']} days",
                    format_money(clv["clv"], currency),
                ),
            ],
            f"From CLV fit #{clv['fit_id']}, purchases up to {clv['as_of']}.",
        )
    else:
        clv_card = _missing_card(
            "Lifetime value",
            "data-customer-clv",
            "Lifetime value not computed yet: no model has been fitted for this customer.",
        )
    return f'<div class="customer-scores">{rfm_card}{clv_card}</div>'


def profile_html(detail: dict) -> str:
    """The customer's name and profile line; every value is user-written, so all escaped."""
    name = detail.get("name") or detail.get("external_id") or "Customer"
    facts = " · ".join(
        safe_text(p)
        for p in (
            detail.get("email"),
            detail.get("country"),
            detail.get("lifecycle_stage"),
            f"signed up {detail['signup_date']}" if detail.get("signup_date") else None,
            f"external id {detail['external_id']}" if detail.get("external_id") else None,
        )
        if p
    )
    return f"<h2>{safe_text(name)}</h2><p>{facts}</p>"


def monthly_frame(detail: dict, today: date | None = None) -> pd.DataFrame:
    """Spend per month; the month of `today` is partial (a dashed line to a hollow point)
    unless today is its last day."""
    rows = detail.get("monthly_spend") or []
    months = [date.fromisoformat(r["month"][:10]) for r in rows]
    days = [observed_days(m, "month", today) for m in months]
    return pd.DataFrame(
        {
            "period_start": [r["month"] for r in rows],
            "total_spend": [float(r["total_spend"]) for r in rows],
            "transaction_count": [r["transaction_count"] for r in rows],
            "days": [seen for seen, _whole in days],
            "partial": [seen < whole for seen, whole in days],
        }
    )


def recent_frame(detail: dict) -> pd.DataFrame:
    frame = pd.DataFrame(detail.get("recent_transactions") or [], columns=RECENT_COLUMNS)
    frame["occurred_at"] = pd.to_datetime(frame["occurred_at"], utc=True).dt.strftime(
        "%Y-%m-%d %H:%M"
    )
    for column in ("merchant", "description"):
        frame[column] = frame[column].fillna("")
    return frame.astype({c: "object" for c in RECENT_COLUMNS if c != "id"})


class CustomerDetail(pn.viewable.Viewer):
    """One customer: profile, totals, spend per month and the latest transactions."""

    def __init__(
        self,
        store: CustomerDetailStore,
        currency: str,
        on_back,
        today: Callable[[], date] = date.today,
        journey=None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.today = today
        self.store = store
        self.currency = currency
        self.back = pn.widgets.Button(label="← All customers", color="light", width=160)
        self.back.on_click(lambda _: on_back())
        self.profile = pn.pane.HTML("", css_classes=["customer-profile"])
        self.totals = pn.pane.HTML("", stylesheets=[DETAIL_CSS], sizing_mode="stretch_width")
        self.scores = pn.pane.HTML(
            "",
            stylesheets=[DETAIL_CSS],
            sizing_mode="stretch_width",
            css_classes=["customer-rfm-clv"],
        )
        self.chart = pn.pane.HoloViews(None, sizing_mode="stretch_width", height=300)
        self.no_spend = pn.pane.Alert(
            "No purchases recorded for this customer yet.", alert_type="info", visible=False
        )
        self.recent = FrameTabulator(
            recent_frame({}),
            show_index=False,
            disabled=True,
            formatters={"id": {"type": "plaintext"}},
            titles=RECENT_TITLES,
            css_classes=["customer-recent"],
            **fitted(
                {
                    "id": 72,
                    "occurred_at": 132,
                    "merchant": 150,
                    "category": 125,
                    "kind": 80,
                    "amount": 110,
                },
                money=("amount",),
            ),
        )
        self._layout = pn.Column(
            self.back,
            self.profile,
            self.totals,
            self.scores,
            pn.pane.Markdown("### Spend per month"),
            self.no_spend,
            self.chart,
            pn.pane.Markdown("### Recent transactions"),
            self.recent,
            *([journey] if journey is not None else []),
            sizing_mode="stretch_width",
            css_classes=["customer-detail"],
        )
        store.param.watch(DelayedLoading(self._layout), "loading")
        store.param.watch(lambda _: pn.state.execute(self._draw), "loaded")

    def _draw(self) -> None:
        detail = self.store.detail
        if not detail:
            return
        with pn.io.hold():
            self.profile.object = profile_html(detail)
            self.totals.object = totals_html(detail, self.currency)
            self.scores.object = scores_html(detail, self.currency)
            monthly = monthly_frame(detail, self.today())
            self.no_spend.visible = monthly.empty
            self.chart.visible = not monthly.empty
            if not monthly.empty:
                self.chart.object = charts.spend_over_time(
                    monthly, interval="month", currency=self.currency
                ).opts(title="Spend per month")
            self.recent.value = recent_frame(detail)

    def __panel__(self):
        return self._layout


class CustomersPage(pn.viewable.Viewer):
    title = "Customers"

    customer = param.Integer(default=None, allow_None=True, doc="The customer opened, if any")

    def __init__(
        self,
        store: CustomersStore,
        detail_store: CustomerDetailStore,
        currency: str,
        today: Callable[[], date] = date.today,
        journey=None,
        **params,
    ) -> None:
        super().__init__(**params)
        self.journey = journey  # the customer's stages and events (pages.journey.CustomerJourney)
        self.store = store
        self.detail_store = detail_store
        self.search = pn.widgets.TextInput(
            label="Search",
            placeholder="Name, email or external id — press Enter",
            sizing_mode="stretch_width",
        )
        self.search.param.watch(lambda e: setattr(store, "q", e.new or ""), "value")
        self.countries = pn.widgets.TextInput(
            label="Countries", placeholder="ISO codes, e.g. DE FR", width=170
        )
        self.countries.param.watch(
            lambda e: setattr(store, "countries", parse_countries(e.new or "")), "value"
        )
        self.stage = pn.widgets.Select(
            label="Lifecycle stage",
            options={"Any": "", **{s.capitalize(): s for s in LIFECYCLE_STAGES}},
            width=150,
        )
        self.stage.param.watch(lambda e: setattr(store, "lifecycle_stage", e.new or ""), "value")
        self.segments = pn.widgets.MultiChoice(
            label="RFM segments",
            options={label: slug for slug, label in SEGMENT_LABELS.items()},
            placeholder="Any segment",
            width=260,
            css_classes=["customers-segments"],
            description="Segments of the latest stored RFM snapshot (see the Segments page)",
        )
        self.segments.param.watch(lambda e: setattr(store, "segments", list(e.new)), "value")
        self.signup_from = pn.widgets.DatePicker(label="Signed up from", width=150)
        self.signup_to = pn.widgets.DatePicker(label="Signed up to", width=150)
        self.signup_from.param.watch(lambda e: setattr(store, "signup_from", e.new), "value")
        self.signup_to.param.watch(lambda e: setattr(store, "signup_to", e.new), "value")
        self.count = pn.pane.Markdown("", margin=(0, 10), css_classes=["customers-count"])
        self.empty = pn.pane.Alert(
            EMPTY_MESSAGE, alert_type="info", visible=False, sizing_mode="stretch_width"
        )
        self.table = ApiPagedTabulator(
            # Columns from the start: the browser never has to rebuild them on the first page.
            customers_frame([], store.currency),
            page_size=store.page_size,
            show_index=False,
            disabled=True,
            selectable=1,
            sortable={column: column in SORTABLE for column in TITLES},
            titles=TITLES,
            formatters={"id": {"type": "plaintext"}, "external_id": {"type": "plaintext"}},
            css_classes=["customers-table"],
            **fitted(
                {
                    "id": 60,
                    "name": 160,
                    "total_spend": 110,
                    "last_purchase": 105,
                    "clv": 100,
                    "signup_date": 100,
                },
                money=("total_spend", "clv"),
                text_align={"transaction_count": "right", "p_alive": "right"},
            ),
        )
        self.table.param.watch(self._page_chosen, "page")
        self.table.param.watch(lambda e: setattr(store, "sort", api_sort(e.new)), "sorters")
        self.table.param.watch(self._selected, "selection")
        store.param.watch(DelayedLoading(self.table), "loading")
        store.param.watch(lambda _: pn.state.execute(self._draw), "loaded")
        self.list_view = pn.Column(
            pn.Row(self.search, sizing_mode="stretch_width"),
            pn.FlexBox(self.countries, self.stage, self.segments, self.signup_from, self.signup_to),
            self.count,
            self.empty,
            self.table,
            sizing_mode="stretch_width",
        )
        self.detail = CustomerDetail(
            detail_store, currency, on_back=self.show_list, today=today, journey=journey
        )
        self._layout = pn.Column(self.list_view, sizing_mode="stretch_width")
        if store.items is not None:
            self._draw_now()

    def _page_chosen(self, event) -> None:
        if event.new != self.store.page:
            self.store.page = event.new

    def _selected(self, event) -> None:
        if not event.new or self.table.value is None or event.new[0] >= len(self.table.value):
            return
        customer_id = int(self.table.value.iloc[event.new[0]]["id"])
        self.open_customer(customer_id)

    def open_customer(self, customer_id: int) -> None:
        self.customer = customer_id
        self._layout[:] = [self.detail]
        if self.journey is not None:
            self.journey.show(customer_id)
        if self.detail_store.customer_id == customer_id:
            self.detail_store.load()
        else:
            self.detail_store.customer_id = customer_id

    def show_list(self) -> None:
        self.customer = None
        self.table.selection = []
        self._layout[:] = [self.list_view]

    # -- the view in the address bar (see state/view.py) --------------------------------------

    def view_params(self) -> list:
        names = ["q", "countries", "signup_from", "signup_to", "lifecycle_stage", "segments"]
        return [(self.store, [*names, "sort", "page"]), (self, ["customer"])]

    def view_options(self) -> list[tuple[str, str]]:
        store, options = self.store, []
        if store.q.strip():
            options.append(("q", store.q.strip()))
        options += [("country", c) for c in store.countries]
        if store.lifecycle_stage:
            options.append(("stage", store.lifecycle_stage))
        options += [("segment", s) for s in store.segments]
        for key, day in (("signup_from", store.signup_from), ("signup_to", store.signup_to)):
            if day is not None:
                options.append((key, day.isoformat()))
        if store.sort != "name":
            options.append(("sort", store.sort))
        if store.page != 1:
            options.append(("p", str(store.page)))
        if self.customer is not None:
            options.append(("customer", str(self.customer)))
        return options

    def restore_view(self, query) -> None:
        store = self.store
        with pn.io.hold():
            self.search.value = (first(query, "q") or "")[:200]
            self.countries.value = " ".join(c for c in as_list(query, "country") if c.isalpha())
            self.stage.value = one_of(first(query, "stage"), LIFECYCLE_STAGES, "")
            self.segments.value = [s for s in as_list(query, "segment") if s in SEGMENT_LABELS]
            self.signup_from.value = as_day(first(query, "signup_from"))
            self.signup_to.value = as_day(first(query, "signup_to"))
            sort = one_of(first(query, "sort"), store.param.sort.objects, "name")
            if sort != store.sort:
                store.sort = sort
            page = as_int(first(query, "p")) or 1
            if page != store.page:
                store.page = page
            customer = as_int(first(query, "customer"))
            if customer is None:
                if self.customer is not None:
                    self.show_list()
            elif customer != self.customer:
                self.open_customer(customer)

    def _draw(self) -> None:
        with pn.io.hold():
            self._draw_now()

    def _draw_now(self) -> None:
        store = self.store
        self.count.object = (
            f"**{format_count(store.total)}** customers · page {store.page} of {store.page_count}"
        )
        self.empty.visible = store.total == 0
        self.table.show_page(store.items, store.total, store.page)

    def __panel__(self):
        return self._layout
