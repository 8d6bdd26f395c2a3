"""The sidebar's filter widgets, kept in step with the `Filters` state in both directions."""

from __future__ import annotations

from datetime import date

import panel as pn
import param

from spendlens_dashboard.formatting import DAY_PICKER_FORMAT, text_options
from spendlens_dashboard.state import PRESETS, CatalogStore, Filters


class DayRangePicker(pn.widgets.DateRangePicker):
    """Shows its days like the rest of the dashboard (01 Jun 2026), not as 2026-06-01."""

    date_format = param.String(default=DAY_PICKER_FORMAT, doc="flatpickr's display format")


class AmountInput(pn.widgets.FloatInput):
    """A FloatInput whose empty value shows as empty: Panel sends None as NaN, which the
    browser then prints in the box ("NaN" after Reset filters); Bokeh takes null itself."""

    def _process_param_change(self, params: dict) -> dict:
        empty = [k for k in ("value", "value_throttled") if k in params and params[k] is None]
        params = super()._process_param_change(params)
        for key in empty:
            if key in params:
                params[key] = None
        return params


class FilterBar(pn.viewable.Viewer):
    """Date range (presets or custom), categories, merchants (searchable) and amount range."""

    def __init__(self, filters: Filters, catalog: CatalogStore, **params) -> None:
        super().__init__(**params)
        self.filters = filters
        self.catalog = catalog
        self.preset = pn.widgets.Select(
            label="Date range",
            options={label: key for key, label in PRESETS.items()},
            value=filters.preset,
            sizing_mode="stretch_width",
        )
        start, end = filters.period()
        self.date_range = DayRangePicker(
            label="From – to", value=(start, end), sizing_mode="stretch_width"
        )
        # Category and merchant names are user-written and the pickers draw labels as HTML.
        self.categories = pn.widgets.MultiChoice(
            label="Categories",
            options=text_options(catalog.categories),
            value=list(filters.categories),
            placeholder="All categories",
            sizing_mode="stretch_width",
        )
        self.merchants = pn.widgets.MultiChoice(
            label="Merchants",
            options=text_options(catalog.merchant_names),
            value=list(filters.merchants),
            placeholder="Type to search merchants",
            search_option_limit=50,
            sizing_mode="stretch_width",
        )
        self.min_amount = AmountInput(
            label="Min amount", value=filters.min_amount, placeholder="any", width=140
        )
        self.max_amount = AmountInput(
            label="Max amount", value=filters.max_amount, placeholder="any", width=140
        )
        self.reset = pn.widgets.Button(label="Reset filters", color="light")
        self.period_note = pn.pane.Markdown(
            filters.describe(), styles={"font-size": "0.85em", "opacity": "0.8"}
        )

        self.preset.param.watch(self._preset_chosen, "value")
        self.date_range.param.watch(self._range_chosen, "value")
        self.categories.param.watch(lambda e: self._set(categories=list(e.new)), "value")
        self.merchants.param.watch(lambda e: self._set(merchants=list(e.new)), "value")
        self.min_amount.param.watch(lambda e: self._set(min_amount=e.new), "value")
        self.max_amount.param.watch(lambda e: self._set(max_amount=e.new), "value")
        self.reset.on_click(lambda _: filters.reset())
        filters.param.watch(self._filters_changed, list(Filters.QUERY_FIELDS))
        catalog.param.watch(self._catalog_changed, ["categories", "merchants"])

        self._layout = pn.Column(
            pn.pane.Markdown("#### Filters", margin=(10, 10, 0, 10)),
            self.preset,
            self.date_range,
            self.period_note,
            self.categories,
            self.merchants,
            pn.Row(self.min_amount, self.max_amount),
            self.reset,
            sizing_mode="stretch_width",
        )

    def _set(self, **values) -> None:
        changed = {k: v for k, v in values.items() if getattr(self.filters, k) != v}
        if changed:
            self.filters.param.update(**changed)

    def _preset_chosen(self, event) -> None:
        if event.new == "custom":
            # Start the custom range from what was shown, so choosing "custom" changes nothing yet.
            start, end = self.filters.period()
            self._set(preset="custom", start_date=start, end_date=end)
        else:
            self._set(preset=event.new)

    def _range_chosen(self, event) -> None:
        if not event.new or None in event.new:
            return
        start, end = (as_date(v) for v in event.new)
        if (start, end) != self.filters.period():
            self._set(preset="custom", start_date=start, end_date=end)

    def _filters_changed(self, *_events) -> None:
        f = self.filters
        self.preset.value = f.preset
        period = f.period()
        if tuple(as_date(v) for v in (self.date_range.value or ())) != period:
            self.date_range.value = period
        self.period_note.object = f.describe()
        for widget, value in (
            (self.categories, list(f.categories)),
            (self.merchants, list(f.merchants)),
            (self.min_amount, f.min_amount),
            (self.max_amount, f.max_amount),
        ):
            if widget.value != value:
                widget.value = value

    def _catalog_changed(self, *_events) -> None:
        self.categories.options = text_options(self.catalog.categories)
        self.merchants.options = text_options(self.catalog.merchant_names)

    def __panel__(self):
        return self._layout


def as_date(value) -> date:
    return value.date() if hasattr(value, "date") and callable(value.date) else value
