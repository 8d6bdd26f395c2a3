"""Charts of customer lifetime value: a DataFrame in (from state.clv), a HoloViews element
(Bokeh backend) out, nothing else; as in charts.py, money in tooltips carries the organisation's
currency and an empty DataFrame gives an empty chart, never an error."""

from __future__ import annotations

import holoviews as hv
import pandas as pd

from spendlens_dashboard.charts import CHART_HEIGHT, LINE_COLOR
from spendlens_dashboard.formatting import format_count, format_money, format_share

PREDICTED_COLOR = "#ff7f0e"
ACTUAL_COLOR = LINE_COLOR
HEATMAP_CMAP = "RdYlGn"
TITLES = {
    "clv_distribution": "Customers by lifetime value",
    "p_alive_heatmap": "P(alive) by recency and frequency",
    "holdout": "Holdout: repeat purchases per customer, predicted (orange) vs actual (blue)",
}
SERIES = ("Predicted", "Actual")


def _short_money(value: float, currency: str) -> str:
    """Axis-sized money: '$2k', '$2.5k', '$1.2M', '$500'."""
    text = format_money(value, currency)
    symbol_end = next((i for i, ch in enumerate(text) if ch.isdigit()), 0)
    prefix = text[:symbol_end]
    for size, suffix in ((1_000_000, "M"), (1_000, "k")):
        if abs(value) >= size:
            return f"{prefix}{value / size:.3g}{suffix}"
    return f"{prefix}{value:.3g}" if value != int(value) else f"{prefix}{int(value)}"


def clv_distribution(frame: pd.DataFrame, *, currency: str = "USD") -> hv.Bars:
    """Customers per CLV bin as vertical bars in bin order (the last bin may be open-ended:
    '≥ $26k'); hover shows the bin's range, customers, their share and their total CLV."""
    low = pd.to_numeric(frame.get("low", pd.Series(dtype=float))).astype(float)
    high = pd.to_numeric(frame.get("high", pd.Series(dtype=float))).astype(float)
    customers = pd.to_numeric(frame.get("customers", pd.Series(dtype=int))).fillna(0).astype(int)
    totals = pd.to_numeric(frame.get("clv_total", pd.Series(dtype=float))).astype(float)
    everyone = int(customers.sum())
    data = pd.DataFrame({"customers": customers.values})
    data["bin"] = [
        (
            f"≥ {_short_money(lo, currency)}"
            if pd.isna(hi)
            else f"{_short_money(lo, currency)}–{_short_money(hi, currency)}"
        )
        for lo, hi in zip(low, high)
    ]
    data["range_label"] = [
        (
            f"{format_money(lo, currency)} and more"
            if pd.isna(hi)
            else f"{format_money(lo, currency)} to {format_money(hi, currency)}"
        )
        for lo, hi in zip(low, high)
    ]
    data["count_label"] = [format_count(v) for v in customers]
    data["share_label"] = [format_share(v / everyone) if everyone else "–" for v in customers]
    data["total_label"] = [format_money(v, currency) for v in totals]
    bars = hv.Bars(
        data,
        kdims=[hv.Dimension("bin", label=f"Lifetime value ({currency})")],
        vdims=[
            hv.Dimension("customers", label="Customers"),
            "range_label",
            "count_label",
            "share_label",
            "total_label",
        ],
    )
    return bars.opts(
        title=TITLES["clv_distribution"],
        color=LINE_COLOR,
        line_color=None,
        responsive=True,
        height=CHART_HEIGHT,
        xlabel=f"Lifetime value ({currency})",
        ylabel="Customers",
        xrotation=45,
        show_grid=True,
        tools=["hover"],
        hover_tooltips=[
            ("Lifetime value", "@range_label"),
            ("Customers", "@count_label"),
            ("Share of customers", "@share_label"),
            ("Their total CLV", "@total_label"),
        ],
        default_tools=[],
        toolbar=None,
        framewise=True,
    )


def _bucket_order(x_factors: list[str], y_factors: list[str]):
    def hook(plot, element) -> None:
        if x_factors:
            plot.state.x_range.factors = x_factors
        if y_factors:
            plot.state.y_range.factors = y_factors

    return hook


def p_alive_heatmap(frame: pd.DataFrame) -> hv.HeatMap:
    """Mean P(alive) per cell, frequency across and recency (time since the last purchase) down,
    in the buckets' own order (frame.attrs recency_order / frequency_order, else as they come);
    empty cells stay blank. Green: likely still a customer; red: likely gone."""
    recency = frame.get("recency", pd.Series(dtype=str)).astype(str)
    frequency = frame.get("frequency", pd.Series(dtype=str)).astype(str)
    recency_order = list(frame.attrs.get("recency_order") or dict.fromkeys(recency))
    frequency_order = list(frame.attrs.get("frequency_order") or dict.fromkeys(frequency))
    data = pd.DataFrame(
        {
            "frequency": frequency.values,
            "recency": recency.values,
            "mean_p_alive": pd.to_numeric(frame.get("mean_p_alive", pd.Series(dtype=float)))
            .astype(float)
            .values,
            "customers": pd.to_numeric(frame.get("customers", pd.Series(dtype=int)))
            .fillna(0)
            .astype(int)
            .values,
        }
    )
    data = data[(data["customers"] > 0) & data["mean_p_alive"].notna()].copy()
    data["p_alive_label"] = [format_share(v) for v in data["mean_p_alive"]]
    data["count_label"] = [format_count(v) for v in data["customers"]]
    heatmap = hv.HeatMap(
        data,
        kdims=[
            hv.Dimension("frequency", label="Repeat purchases"),
            hv.Dimension("recency", label="Since the last purchase"),
        ],
        vdims=[
            hv.Dimension("mean_p_alive", label="Mean P(alive)", range=(0, 1)),
            "customers",
            "p_alive_label",
            "count_label",
        ],
    )
    return heatmap.opts(
        title=TITLES["p_alive_heatmap"],
        cmap=HEATMAP_CMAP,
        clim=(0, 1),
        colorbar=True,
        responsive=True,
        height=CHART_HEIGHT + 40,
        xlabel="Repeat purchases (frequency)",
        ylabel="Since the last purchase (recency)",
        # HeatMap sorts categories as text ('10–19' before '2'): put the buckets in their order,
        # the most recent at the top.
        hooks=[_bucket_order(frequency_order, recency_order[::-1])],
        tools=["hover"],
        hover_tooltips=[
            ("Repeat purchases", "@frequency"),
            ("Since the last purchase", "@recency"),
            ("Mean P(alive)", "@p_alive_label"),
            ("Customers", "@count_label"),
        ],
        default_tools=[],
        toolbar=None,
        framewise=True,
    )


def _hide_series_labels(plot, element) -> None:
    """Hide the inner factors (the series) of a grouped bar chart's axis, keep the groups."""
    for axis in plot.state.xaxis:
        axis.major_label_text_font_size = "0px"


def holdout_comparison(frame: pd.DataFrame) -> hv.Bars:
    """Mean repeat purchases per customer in the holdout, predicted next to actual, for each
    group of calibration frequency (0 … 6, 7+), as grouped bars."""
    groups = frame.get("frequency", pd.Series(dtype=str)).astype(str)
    customers = pd.to_numeric(frame.get("customers", pd.Series(dtype=int))).fillna(0).astype(int)
    columns = {
        "Predicted": pd.to_numeric(frame.get("mean_predicted", pd.Series(dtype=float))),
        "Actual": pd.to_numeric(frame.get("mean_actual", pd.Series(dtype=float))),
    }
    rows = []
    for i, group in enumerate(groups):
        for series in SERIES:
            value = float(columns[series].iloc[i])
            if pd.isna(value):
                continue
            rows.append(
                {
                    "frequency": group,
                    "series": series,
                    "purchases": value,
                    "color": PREDICTED_COLOR if series == "Predicted" else ACTUAL_COLOR,
                    "value_label": f"{value:,.2f}",
                    "count_label": format_count(customers.iloc[i]),
                }
            )
    data = pd.DataFrame(
        rows,
        columns=["frequency", "series", "purchases", "color", "value_label", "count_label"],
    )
    bars = hv.Bars(
        data,
        kdims=[
            hv.Dimension("frequency", label="Repeat purchases in calibration"),
            hv.Dimension("series", label="Series"),
        ],
        vdims=[
            hv.Dimension("purchases", label="Repeat purchases per customer"),
            "color",
            "value_label",
            "count_label",
        ],
    )
    return bars.opts(
        title=TITLES["holdout"],
        # (A colour column on no rows trips HoloViews' grouped bars: one colour then.)
        color="color" if len(data) else ACTUAL_COLOR,
        line_color=None,
        responsive=True,
        height=CHART_HEIGHT,
        xlabel="Repeat purchases in calibration",
        ylabel="Holdout repeat purchases per customer",
        show_grid=True,
        show_legend=False,
        # Only the group labels on the axis: "Actual"/"Predicted" under every narrow bar ran into
        # each other, and the title names the colours.
        hooks=[_hide_series_labels],
        tools=["hover"],
        hover_tooltips=[
            ("Repeat purchases in calibration", "@frequency"),
            ("", "@series"),
            ("Per customer", "@value_label"),
            ("Customers", "@count_label"),
        ],
        default_tools=[],
        toolbar=None,
        framewise=True,
    )
