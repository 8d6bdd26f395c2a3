"""Charts of the Journey page: an API answer (or its DataFrame) in, a HoloViews element out.

Every function copes with an empty answer (an empty chart, never an error).
"""

from __future__ import annotations

import holoviews as hv
import pandas as pd

from spendlens_dashboard.charts import CHART_HEIGHT
from spendlens_dashboard.formatting import format_share

hv.extension("bokeh", logo=False)

STAGE_COLORS = {
    "new": "#bababa",
    "lead": "#92c5de",
    "prospect": "#4393c3",
    "customer": "#1a9850",
    "churned": "#d73027",
}
STAGES = ["lead", "prospect", "customer", "churned"]
SIDE_LABELS = {"start": "start", "end": "end"}


def stage_color(stage: str) -> str:
    return STAGE_COLORS.get(stage, "#9e9e9e")


def _common(title: str, height: int = CHART_HEIGHT) -> dict:
    return {
        "title": title,
        "responsive": True,
        "height": height,
        "tools": ["hover"],
        "default_tools": [],
        "toolbar": None,
        "framewise": True,
    }


def duration_text(seconds: float | None) -> str:
    """Seconds as a short duration: '–', '0 s', '45 min', '5.2 h', '3.4 days'."""
    if seconds is None or pd.isna(seconds):
        return "–"
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def stages_over_time(frame: pd.DataFrame) -> hv.Element:
    """Customers per stage at the end of each period, stacked (lead at the bottom); an empty
    chart of the same title without periods."""
    if frame.empty:
        return hv.Curve([]).opts(**_common("Customers per stage over time"))
    areas = []
    for stage in STAGES:
        data = pd.DataFrame(
            {
                "period_start": frame["period_start"],
                "customers": frame[stage].astype(float),
            }
        )
        areas.append(
            hv.Area(data, "period_start", "customers", label=stage).opts(
                color=stage_color(stage), alpha=0.8, line_width=0
            )
        )
    stacked = hv.Area.stack(hv.Overlay(areas))
    return stacked.opts(
        hv.opts.Area(tools=["hover"]),
        hv.opts.Overlay(
            title="Customers per stage over time",
            responsive=True,
            height=CHART_HEIGHT,
            legend_position="top_left",
            xlabel="",
            ylabel="Customers",
            toolbar=None,
        ),
    )


def funnel_bars(funnel: dict | None) -> hv.Bars:
    """One bar per step (lead, prospect, customer) with the conversion from the step before and
    the median and p90 time to reach it in the hover."""
    rows = []
    for step in (funnel or {}).get("steps", []):
        conversion = step["conversion"]
        rows.append(
            {
                "stage": step["stage"],
                "customers": step["customers"],
                "conversion": "–" if conversion is None else format_share(conversion),
                "median": duration_text(step["median_seconds"]),
                "p90": duration_text(step["p90_seconds"]),
                "color": stage_color(step["stage"]),
            }
        )
    data = pd.DataFrame(
        rows, columns=["stage", "customers", "conversion", "median", "p90", "color"]
    )
    return hv.Bars(data, "stage", ["customers", "conversion", "median", "p90", "color"]).opts(
        **_common("Funnel of the customers first seen in the period"),
        color="color",
        xlabel="",
        ylabel="Customers",
        hover_tooltips=[
            ("Step", "@stage"),
            ("Customers", "@customers{0,0}"),
            ("Conversion", "@conversion"),
            ("Median time", "@median"),
            ("90th percentile", "@p90"),
        ],
    )


def node_name(stage: str, side: str) -> str:
    """'lead (start)', 'customer (end)': each stage appears once on each side of the Sankey."""
    return f"{stage} ({SIDE_LABELS[side]})"


def flows_sankey(flows: dict | None) -> hv.Element:
    """Customers from their stage at the start to their stage at the end ('new': not seen yet);
    without any customer, an empty chart of the same title (a Sankey needs a node)."""
    links = [
        (
            node_name(link["from_stage"], "start"),
            node_name(link["to_stage"], "end"),
            link["customers"],
        )
        for link in (flows or {}).get("links", [])
        if link["customers"] > 0
    ]
    data = pd.DataFrame(links, columns=["source", "target", "customers"])
    if data.empty:
        return hv.Curve([]).opts(**_common("Flows between stages"), xaxis=None, yaxis=None)
    nodes = sorted(
        {*data["source"], *data["target"]},
        key=lambda n: (n.endswith("(end)"), ["new", *STAGES].index(n.split(" ")[0])),
    )
    colors = {name: stage_color(name.split(" ")[0]) for name in nodes}
    node_table = hv.Dataset(
        pd.DataFrame({"index": nodes, "color": [colors[n] for n in nodes]}), "index"
    )
    return hv.Sankey((data, node_table), ["source", "target"], "customers").opts(
        title="Flows between stages",
        height=CHART_HEIGHT + 80,
        width=900,
        labels="index",
        node_color="color",
        edge_color="source",
        cmap=colors,
        label_position="outer",
        toolbar=None,
        default_tools=[],
        tools=["hover"],
    )
