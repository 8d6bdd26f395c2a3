"""Chart functions: a DataFrame in, a HoloViews element (Bokeh backend) out, nothing else.

Every chart colours a category the same way (`category_colors`), shows money formatted with the
organisation's currency in its hover tooltip, and copes with an empty DataFrame.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Mapping

import holoviews as hv
import numpy as np
import pandas as pd
from bokeh.models import NumeralTickFormatter

from spendlens_dashboard.formatting import (
    CURRENCY_SYMBOLS,
    format_count,
    format_money,
    format_share,
)

hv.extension("bokeh", logo=False)

# Category20 without its greys, strong shades first; grey is kept for "Other".
PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#bcbd22",
    "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2",
    "#dbdb8d", "#9edae5",
)  # fmt: skip
OTHER_COLOR = "#9e9e9e"
EMPTY_COLOR = "#e9ecef"
EMPTY_DONUT_LABEL = "No spend"
LINE_COLOR = "#1f77b4"
CHART_HEIGHT = 320

TITLES = {
    "spend_over_time": "Spend over time",
    "spend_by_category": "Spend by category",
    "category_share": "Category share",
    "top_merchants": "Top merchants",
}
PERIOD_FORMATS = {"day": "%a %d %b %Y", "week": "Week of %d %b %Y", "month": "%B %Y"}


# Mixed into the hash so the demo's twelve categories all get different colours (any salt keeps
# colours stable; this one was picked for the demo data, see test_dashboard_charts.py).
COLOR_SALT = "12355"


def stable_color(category: str) -> str:
    """The colour of a category: a palette colour that depends only on its name, so importing
    new categories never changes the colour of existing ones (two names can share a colour;
    every chart names its categories)."""
    if category == "Other":
        return OTHER_COLOR
    return PALETTE[zlib.crc32(f"{COLOR_SALT}:{category}".encode("utf-8")) % len(PALETTE)]


def category_colors(categories: Iterable[str]) -> dict[str, str]:
    """The colour of each category (`stable_color`): the same in every chart, every session
    and every organisation, whatever other categories exist."""
    colors = {name: stable_color(name) for name in set(categories) - {"Other"}}
    colors["Other"] = OTHER_COLOR
    return colors


def color_of(category: str | None, colors: Mapping[str, str] | None) -> str:
    if not category:
        return OTHER_COLOR
    if colors and category in colors:
        return colors[category]
    return stable_color(category)


def money_axis(currency: str) -> NumeralTickFormatter:
    symbol = CURRENCY_SYMBOLS.get(currency, "")
    return NumeralTickFormatter(format=f"{symbol}0.[0]a")


def _period_days_label(days: object, partial: object, interval: str) -> str:
    if not partial or pd.isna(days):
        return "whole " + interval if interval in ("week", "month") else ""
    return f"only {int(days)} day{'s' if int(days) != 1 else ''} in range (partial {interval})"


def spend_over_time(
    frame: pd.DataFrame, *, interval: str = "day", currency: str = "USD"
) -> hv.Overlay:
    """Net spend per day, week or month as a line; hover shows the period and the money.

    A week or month the date range covers only in part (the API's `partial`, at either end) is
    drawn as a hollow point and its tooltip says how many days it holds: its lower figure is
    the cut, not a dip in spending.
    """
    rows = len(frame)
    partial = frame["partial"] if "partial" in frame else pd.Series([False] * rows, dtype=bool)
    days = frame["days"] if "days" in frame else pd.Series([None] * rows, dtype=object)
    data = pd.DataFrame(
        {
            "period_start": pd.to_datetime(frame.get("period_start", pd.Series(dtype=object))),
            "total_spend": pd.to_numeric(frame.get("total_spend", pd.Series(dtype=float))),
            "transaction_count": frame.get("transaction_count", pd.Series(dtype=int)),
            "partial": partial.fillna(False).astype(bool).to_numpy(),
        }
    )
    date_format = PERIOD_FORMATS.get(interval, "%d %b %Y")
    data["period_label"] = [d.strftime(date_format) for d in data["period_start"]]
    data["spend_label"] = [format_money(v, currency) for v in data["total_spend"]]
    data["count_label"] = [format_count(v) for v in data["transaction_count"]]
    data["days_label"] = [_period_days_label(d, p, interval) for d, p in zip(days, data["partial"])]
    period = hv.Dimension("period_start", label="Period")
    spend = hv.Dimension("total_spend", label=f"Spend ({currency})", **spend_range(data))
    # The line people hover: every period (the lines drawn below are what they see).
    curve = hv.Curve(
        data,
        kdims=[period],
        vdims=[spend, "period_label", "spend_label", "count_label", "days_label"],
    )
    tooltips = [
        ("Period", "@period_label"),
        ("Spend", "@spend_label"),
        ("Purchases", "@count_label"),
    ]
    if interval in ("week", "month"):
        tooltips.append(("Covers", "@days_label"))
    # Their own value names, so probes summing `total_spend` count each period once.
    line = hv.Dimension("line_spend", label=spend.label)
    whole, cut = _solid_and_dashed(data)
    solid = hv.Curve(whole, kdims=[period], vdims=[line]).opts(
        color=LINE_COLOR, line_width=2.5, tools=[]
    )
    dashed = hv.Path(cut, kdims=[period, line]).opts(
        color=LINE_COLOR, line_width=2.5, line_dash="dashed", tools=[]
    )
    marked = data.loc[data["partial"], ["period_start", "total_spend"]].rename(
        columns={"total_spend": "partial_spend"}
    )
    partial_points = hv.Scatter(
        marked, kdims=[period], vdims=[hv.Dimension("partial_spend", label=spend.label)]
    ).opts(
        marker="circle",
        size=14,
        color="white",
        line_color=LINE_COLOR,
        line_width=3,
        tools=[],
    )
    curve = curve.opts(
        title=TITLES["spend_over_time"],
        color=LINE_COLOR,
        line_alpha=0,
        line_width=2.5,
        responsive=True,
        height=CHART_HEIGHT,
        xlabel="",
        ylabel=f"Spend ({currency})",
        yformatter=money_axis(currency),
        show_grid=True,
        tools=["hover"],
        hover_mode="vline",
        hover_tooltips=tooltips,
        default_tools=[],
        toolbar=None,
        framewise=True,
    )
    # Padding keeps the end markers inside the frame instead of cut in half by its edge.
    return (curve * solid * dashed * partial_points).opts(
        title=TITLES["spend_over_time"], framewise=True, padding=(0.03, 0.08)
    )


def spend_range(data: pd.DataFrame) -> dict:
    """The spend axis starts at zero (unless refunds go below it); with no spend at all it
    runs from $0 to $100 rather than Bokeh's "$-1 … $1" around nothing."""
    values = data["total_spend"].dropna()
    if values.empty or (values == 0).all():
        return {"range": (0, 100)}
    return {"soft_range": (0, None)}


def _solid_and_dashed(data: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The whole periods as one line, and a dashed segment to each partial period at either
    end (the range cuts a week or month at its start or end, so only the ends can be partial)."""
    frame = pd.DataFrame(
        {"period_start": data["period_start"], "line_spend": data["total_spend"]}
    ).reset_index(drop=True)
    partial = data["partial"].to_numpy()
    whole = [i for i in range(len(frame)) if not partial[i]]
    if not whole:
        return frame.iloc[0:0], [frame] if len(frame) > 1 else []
    first, last = whole[0], whole[-1]
    cuts = []
    if first > 0:
        cuts.append(frame.iloc[0 : first + 1])
    if last < len(frame) - 1:
        cuts.append(frame.iloc[last:])
    return frame.iloc[first : last + 1], cuts


def _breakdown_data(
    frame: pd.DataFrame, currency: str, colors: Mapping[str, str] | None, color_column: str
) -> pd.DataFrame:
    data = pd.DataFrame(
        {
            "label": frame.get("label", pd.Series(dtype=str)).astype(str),
            "total_spend": pd.to_numeric(frame.get("total_spend", pd.Series(dtype=float))),
            "transaction_count": frame.get("transaction_count", pd.Series(dtype=int)),
            "share": pd.to_numeric(frame.get("share", pd.Series(dtype=float))),
        }
    )
    color_keys = frame[color_column] if color_column in frame else data["label"]
    data["category"] = [str(c) if c is not None else "" for c in color_keys]
    # Text even when empty: an empty float column would make the plot map "colours" as numbers
    # (and BokehJS throw "invalid color array" when the next answer brings names).
    data["category"] = data["category"].astype(object)
    data["color"] = pd.Series([color_of(c, colors) for c in data["category"]], dtype=object)
    data["spend_label"] = [format_money(v, currency) for v in data["total_spend"]]
    data["share_label"] = [format_share(v) for v in data["share"]]
    data["count_label"] = [format_count(v) for v in data["transaction_count"]]
    return data


def _bars(
    data: pd.DataFrame, *, key_label: str, title: str, currency: str, tooltips: list
) -> hv.Bars:
    # Largest at the top of a horizontal bar chart: Bokeh draws the first factor at the bottom.
    data = data.sort_values("total_spend", ascending=True, kind="stable")
    bars = hv.Bars(
        data,
        kdims=[hv.Dimension("label", label=key_label)],
        vdims=[
            hv.Dimension("total_spend", label=f"Spend ({currency})"),
            "category",
            "color",
            "spend_label",
            "share_label",
            "count_label",
        ],
    )
    return bars.opts(
        title=title,
        color="color",
        invert_axes=True,
        responsive=True,
        height=CHART_HEIGHT,
        xlabel="",
        ylabel=f"Spend ({currency})",
        # After invert_axes the money axis is the horizontal one.
        xformatter=money_axis(currency),
        show_grid=True,
        tools=["hover"],
        hover_tooltips=tooltips,
        default_tools=[],
        toolbar=None,
        line_color=None,
        framewise=True,
    )


def spend_by_category(
    frame: pd.DataFrame, *, currency: str = "USD", colors: Mapping[str, str] | None = None
) -> hv.Bars:
    """Net spend per category (label column) as horizontal bars, largest on top."""
    data = _breakdown_data(frame, currency, colors, color_column="label")
    return _bars(
        data,
        key_label="Category",
        title=TITLES["spend_by_category"],
        currency=currency,
        tooltips=[
            ("Category", "@label"),
            ("Spend", "@spend_label"),
            ("Share", "@share_label"),
            ("Purchases", "@count_label"),
        ],
    )


def top_merchants(
    frame: pd.DataFrame, *, currency: str = "USD", colors: Mapping[str, str] | None = None
) -> hv.Bars:
    """The merchants that took most, coloured by their default category."""
    data = _breakdown_data(frame, currency, colors, color_column="category")
    return _bars(
        data,
        key_label="Merchant",
        title=TITLES["top_merchants"],
        currency=currency,
        tooltips=[
            ("Merchant", "@label"),
            ("Category", "@category"),
            ("Spend", "@spend_label"),
            ("Share", "@share_label"),
            ("Purchases", "@count_label"),
        ],
    )


def bar_at(element: hv.Element, x: object, y: object) -> str | None:
    """The label of the bar clicked at (x, y): horizontal bars have their labels on the
    vertical (categorical) axis. None for 'Other' (no filter selects it) or the empty label."""
    labels = set(element.dimension_values("label")) if len(element) else set()
    label = y if isinstance(y, str) else x if isinstance(x, str) else None
    if label in labels and label not in ("Other", EMPTY_DONUT_LABEL):
        return label
    return None


def wedge_at(element: hv.Element, x: float, y: float) -> str | None:
    """The label of the donut wedge under (x, y), if the click fell on the ring."""
    radius = math.hypot(x, y)
    if not 0.55 <= radius <= 1.0:
        return None
    # Wedges run clockwise from twelve o'clock: measure the click the same way.
    turned = (math.pi / 2 - math.atan2(y, x)) % (2 * math.pi)
    for wedge in element.split():
        label = wedge.dimension_values("label")[0]
        start, end = wedge.dimension_values("from_angle")[0], wedge.dimension_values("to_angle")[0]
        if start <= turned < end and label not in ("Other", EMPTY_DONUT_LABEL):
            return str(label)
    return None


def _wedge(start: float, end: float, inner: float, outer: float) -> np.ndarray:
    """Outline of a donut wedge between two angles (radians, counter-clockwise from east)."""
    steps = max(2, int(abs(end - start) / (2 * math.pi) * 120))
    angles = np.linspace(start, end, steps)
    outer_arc = np.column_stack([outer * np.cos(angles), outer * np.sin(angles)])
    inner_arc = np.column_stack([inner * np.cos(angles[::-1]), inner * np.sin(angles[::-1])])
    return np.vstack([outer_arc, inner_arc])


def category_share(
    frame: pd.DataFrame, *, currency: str = "USD", colors: Mapping[str, str] | None = None
) -> hv.Polygons:
    """Each category's share of net spend as a donut, clockwise from twelve o'clock.

    Categories with a net refund (negative spend) have no wedge: a share of a whole cannot be
    negative; the bar chart still shows them.
    """
    data = _breakdown_data(frame, currency, colors, color_column="label")
    data = data[data["total_spend"] > 0].sort_values("total_spend", ascending=False)
    total = float(data["total_spend"].sum())
    wedges = []
    angle = math.pi / 2
    for row in data.itertuples(index=False):
        sweep = 2 * math.pi * row.total_spend / total
        wedges.append(
            {
                ("x", "y"): _wedge(angle, angle - sweep, inner=0.55, outer=1.0),
                "label": row.label,
                "color": row.color,
                "spend_label": row.spend_label,
                "share_label": format_share(row.total_spend / total),
                "count_label": row.count_label,
                # Clockwise from twelve o'clock, for clicks (wedge_at).
                "from_angle": math.pi / 2 - angle,
                "to_angle": math.pi / 2 - angle + sweep,
            }
        )
        angle -= sweep
    if not wedges:
        # A grey ring that says so: an empty element would leave the previous wedges on screen
        # (and their colours without shapes, which Bokeh rejects when the page is resized).
        wedges.append(
            {
                ("x", "y"): _wedge(math.pi / 2, math.pi / 2 - 2 * math.pi, inner=0.55, outer=1.0),
                "label": EMPTY_DONUT_LABEL,
                "color": EMPTY_COLOR,
                "spend_label": format_money(0, currency),
                "share_label": "–",
                "count_label": format_count(0),
                "from_angle": 0.0,
                "to_angle": 2 * math.pi,
            }
        )
    polygons = hv.Polygons(
        wedges,
        kdims=["x", "y"],
        vdims=[
            "label",
            "color",
            "spend_label",
            "share_label",
            "count_label",
            "from_angle",
            "to_angle",
        ],
    )
    return polygons.opts(
        title=TITLES["category_share"],
        color="color",
        line_color="white",
        line_width=1.5,
        xaxis=None,
        yaxis=None,
        show_grid=False,
        # A circle stays round only with a square frame.
        frame_width=CHART_HEIGHT - 60,
        frame_height=CHART_HEIGHT - 60,
        align="center",
        xlim=(-1.1, 1.1),
        ylim=(-1.1, 1.1),
        tools=["hover"],
        hover_tooltips=[
            ("Category", "@label"),
            ("Spend", "@spend_label"),
            ("Share", "@share_label"),
            ("Purchases", "@count_label"),
        ],
        default_tools=["save"],
        toolbar=None,
    )
