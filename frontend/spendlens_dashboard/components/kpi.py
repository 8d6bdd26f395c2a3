"""Headline KPI cards: a figure from GET /metrics and its change against the previous period."""

from __future__ import annotations

import html
from dataclasses import dataclass

import panel as pn

from spendlens_dashboard.formatting import format_change, format_count, format_money

KPI_CSS = """
:host { width: 100%; }
.kpi { padding: 14px 16px; border-radius: 8px; border: 1px solid var(--panel-border-color, #ddd);
       background: var(--panel-surface-color, #f8f9fa); min-height: 104px; }
.kpi-label { font-size: 0.85rem; opacity: 0.75; text-transform: uppercase; letter-spacing: .04em; }
.kpi-value { font-size: 1.7rem; font-weight: 600; margin: 4px 0; white-space: nowrap; }
.kpi-change { font-size: 0.9rem; font-weight: 600; }
.kpi-change.up { color: #198754; }
.kpi-change.down { color: #dc3545; }
.kpi-change.flat { opacity: 0.7; }
.kpi-previous { font-weight: 400; opacity: 0.75; }
"""


@dataclass(frozen=True)
class Kpi:
    key: str
    label: str
    money: bool


KPIS = (
    Kpi("total_spend", "Total spend", money=True),
    # Purchases only: the Transactions page also lists refunds.
    Kpi("transaction_count", "Purchases", money=False),
    Kpi("average_transaction", "Average purchase", money=True),
    Kpi("active_customers", "Active customers", money=False),
)


def kpi_html(kpi: Kpi, summary: dict | None) -> str:
    """The card's HTML for one KPI of a GET /metrics answer (placeholders while none)."""
    if not summary:
        value, change_text, direction, previous = "…", "", "flat", ""
    else:
        currency = summary["currency"]

        def show(v):
            return format_money(v, currency) if kpi.money else format_count(v)

        value = show(summary[kpi.key])
        before = summary["previous"][kpi.key]
        change_text, direction = format_change(summary["change"][kpi.key], before)
        previous = f"vs {show(before)} in the previous period"
        if summary["change"][kpi.key] is None:  # nothing to compare with
            change_text = ""
            previous = (
                "none in this or the previous period"
                if float(summary[kpi.key]) == 0
                else "none in the previous period"
            )
    return (
        f'<div class="kpi" data-kpi="{kpi.key}">'
        f'<div class="kpi-label">{html.escape(kpi.label)}</div>'
        f'<div class="kpi-value" data-kpi-value="{kpi.key}">{html.escape(value)}</div>'
        f'<div class="kpi-change {direction}" data-kpi-change="{kpi.key}">'
        f'{html.escape(change_text)} <span class="kpi-previous">{html.escape(previous)}</span>'
        "</div></div>"
    )


class KpiCards(pn.viewable.Viewer):
    """Four cards in a row that wraps on narrow screens."""

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.cards = {
            kpi.key: pn.pane.HTML(
                kpi_html(kpi, None),
                stylesheets=[KPI_CSS],
                sizing_mode="stretch_width",
                min_width=210,
                margin=(5, 8),
                styles={"flex": "1 1 220px"},
            )
            for kpi in KPIS
        }
        self._layout = pn.FlexBox(
            *self.cards.values(), flex_wrap="wrap", sizing_mode="stretch_width"
        )

    def show(self, summary: dict | None) -> None:
        for kpi in KPIS:
            self.cards[kpi.key].object = kpi_html(kpi, summary)

    def __panel__(self):
        return self._layout
