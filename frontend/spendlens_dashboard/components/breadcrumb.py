"""The filters in force as a row of chips above the page, each removed with one click."""

from __future__ import annotations

from collections.abc import Callable

import panel as pn

from spendlens_dashboard.formatting import format_money
from spendlens_dashboard.state.filters import Filters

CHIP_CSS = """
:host .bk-btn { border-radius: 14px; padding: 2px 10px; font-size: 0.85rem; }
"""


def applied_filters(filters: Filters, currency: str = "USD") -> list[tuple[str, dict]]:
    """(chip text, what removing it sets) for every filter that differs from its default."""
    chips: list[tuple[str, dict]] = []
    if filters.preset != "last_30_days":
        chips.append((f"Dates: {filters.describe()}", {"preset": "last_30_days"}))
    for category in filters.categories:
        rest = [c for c in filters.categories if c != category]
        chips.append((f"Category: {category}", {"categories": rest}))
    for merchant in filters.merchants:
        rest = [m for m in filters.merchants if m != merchant]
        chips.append((f"Merchant: {merchant}", {"merchants": rest}))
    if filters.min_amount is not None:
        chips.append(
            (f"Amount ≥ {format_money(filters.min_amount, currency)}", {"min_amount": None})
        )
    if filters.max_amount is not None:
        chips.append(
            (f"Amount ≤ {format_money(filters.max_amount, currency)}", {"max_amount": None})
        )
    return chips


class FilterBreadcrumb(pn.viewable.Viewer):
    """'Filtered by: [Category: Travel ✕] [Merchant: … ✕]'; hidden when nothing is filtered."""

    def __init__(self, filters: Filters, currency: Callable[[], str] = lambda: "USD", **params):
        super().__init__(**params)
        self.filters = filters
        self.currency = currency
        self._layout = pn.Row(
            sizing_mode="stretch_width", css_classes=["filter-breadcrumb"], margin=(0, 5)
        )
        self._watcher = filters.param.watch(lambda *_: self._draw(), list(Filters.QUERY_FIELDS))
        self._draw()

    def dispose(self) -> None:
        """Stop following the filters (they outlive a logout; this view does not)."""
        self.filters.param.unwatch(self._watcher)

    def _draw(self) -> None:
        chips = applied_filters(self.filters, self.currency())
        items: list = []
        if chips:
            items.append(pn.pane.Markdown("Filtered by:", margin=(8, 5, 0, 5)))
        for text, removal in chips:
            # Button labels are text, never HTML: user-written names are safe in them.
            chip = pn.widgets.Button(
                label=f"{text} ✕",
                description=f"Remove the filter {text}",
                color="light",
                stylesheets=[CHIP_CSS],
                margin=(5, 4),
                css_classes=["filter-chip"],
            )
            chip.on_click(lambda _event, change=removal: self.filters.param.update(**change))
            items.append(chip)
        if len(chips) > 1:
            clear = pn.widgets.Button(label="Clear all", color="light", margin=(5, 4))
            clear.on_click(lambda _event: self.filters.reset())
            items.append(clear)
        self._layout[:] = items
        self._layout.visible = bool(chips)

    def __panel__(self):
        return self._layout
