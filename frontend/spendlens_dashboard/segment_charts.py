"""Charts of the Segments and Cohorts pages: a DataFrame in, a HoloViews element (Bokeh) out.

Like charts.py: money in hover tooltips is formatted with the organisation's currency, shares as
percentages, and every function copes with an empty DataFrame (an empty chart, never an error).
The heatmaps put their figures on the cells too (hv.Labels over the hv.HeatMap), as long as the
cells are few enough to read.
"""

from __future__ import annotations

import holoviews as hv
import pandas as pd
from bokeh.models import NumeralTickFormatter

from spendlens_dashboard.charts import CHART_HEIGHT, money_axis
from spendlens_dashboard.formatting import format_count, format_money, format_share
from spendlens_dashboard.state.analytics import NO_SEGMENT, fallback_label

hv.extension("bokeh", logo=False)

# Best (green) to worst (red), in the API's segment order.
SEGMENT_COLORS = {
    "champions": "#1a9850",
    "loyal": "#66bd63",
    "potential_loyalist": "#a6d96a",
    "new": "#4393c3",
    "promising": "#92c5de",
    "need_attention": "#fee08b",
    "at_risk": "#fdae61",
    "cant_lose_them": "#f46d43",
    "hibernating": "#bababa",
    "lost": "#d73027",
}
SEGMENT_ORDER = list(SEGMENT_COLORS)
HEATMAP_CMAP = "Blues"
DARK_TEXT, LIGHT_TEXT = "#212529", "#ffffff"
# Beyond this many cells a heatmap shows its figures on hover only.
MAX_LABELLED_CELLS = 400
PARTIAL_MARK = "*"  # after the value of a period still running
MEASURES = {"customers": "Customers", "revenue": "Revenue"}
# Room for every segment and "no RFM" on the rows of the movement matrix.
MOVEMENT_HEIGHT = max(CHART_HEIGHT, 24 * (len(SEGMENT_COLORS) + 1) + 150)


def segment_color(slug: str) -> str:
    return SEGMENT_COLORS.get(slug, "#9e9e9e")


def _text_colors(values: pd.Series, top: float) -> list[str]:
    """White on the darker half of the colour scale, dark text on the lighter half."""
    return [LIGHT_TEXT if top > 0 and v > top / 2 else DARK_TEXT for v in values.fillna(0)]


def rows_height(rows: int) -> int:
    """A chart tall enough for `rows` categorical rows, at least CHART_HEIGHT."""
    return max(CHART_HEIGHT, 24 * rows + 130)


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


# -- segments ------------------------------------------------------------------------------------


def segment_bars(
    frame: pd.DataFrame, *, measure: str = "customers", currency: str = "USD"
) -> hv.Bars:
    """Customers or revenue per segment as horizontal bars, best segment on top, each segment in
    its colour; hover shows both figures and both shares."""
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {sorted(MEASURES)}")
    empty = pd.Series(dtype=float)
    data = pd.DataFrame(
        {
            "segment": frame.get("segment", pd.Series(dtype=str)).astype(str),
            "label": frame.get("label", pd.Series(dtype=str)).astype(str),
            "customers": pd.to_numeric(frame.get("customers", empty)).fillna(0),
            "share": pd.to_numeric(frame.get("share", empty)).fillna(0.0),
            "revenue": pd.to_numeric(frame.get("revenue", empty)).fillna(0.0),
            "revenue_share": pd.to_numeric(frame.get("revenue_share", empty)).fillna(0.0),
        }
    )
    data["color"] = [segment_color(s) for s in data["segment"]]
    data["customers_label"] = [format_count(v) for v in data["customers"]]
    data["share_label"] = [format_share(v) for v in data["share"]]
    data["revenue_label"] = [format_money(v, currency) for v in data["revenue"]]
    data["revenue_share_label"] = [format_share(v) for v in data["revenue_share"]]
    # Bokeh draws the first factor at the bottom: reverse so the best segment is on top.
    data = data.iloc[::-1]
    value_label = "Customers" if measure == "customers" else f"Revenue ({currency})"
    bars = hv.Bars(
        data,
        kdims=[hv.Dimension("label", label="Segment")],
        vdims=[
            hv.Dimension(measure, label=value_label),
            "segment",
            "color",
            "customers_label",
            "share_label",
            "revenue_label",
            "revenue_share_label",
        ],
    )
    options = {}
    if measure == "revenue":
        options["xformatter"] = money_axis(currency)  # after invert_axes: the horizontal axis
    return bars.opts(
        **_common(f"{MEASURES[measure]} per segment"),
        color="color",
        invert_axes=True,
        xlabel="",
        ylabel=value_label,
        show_grid=True,
        line_color=None,
        hover_tooltips=[
            ("Segment", "@label"),
            ("Customers", "@customers_label (@share_label)"),
            ("Revenue", "@revenue_label (@revenue_share_label)"),
        ],
        **options,
    )


def rf_heatmap(frame: pd.DataFrame, *, currency: str = "USD") -> hv.Overlay:
    """Customers per recency score (rows, 5 on top) × frequency score (columns, 1 … 5): colour =
    customers, the count written on each cell, hover with the segment(s) and the revenue."""
    empty = pd.Series(dtype=float)
    data = pd.DataFrame(
        {
            "frequency_score": pd.to_numeric(frame.get("frequency_score", empty)),
            "recency_score": pd.to_numeric(frame.get("recency_score", empty)),
            "customers": pd.to_numeric(frame.get("customers", empty)).fillna(0).astype(int),
            "share": pd.to_numeric(frame.get("share", empty)).fillna(0.0),
            "revenue": pd.to_numeric(frame.get("revenue", empty)).fillna(0.0),
            "segment_label": frame.get("segment_label", pd.Series(dtype=str)),
            "segments_text": frame.get("segments_text", pd.Series(dtype=str)),
        }
    )
    # Factors in order of first appearance: 1 … 5 on both axes (Bokeh puts R 1 at the bottom).
    data = data.sort_values(["recency_score", "frequency_score"], kind="stable")
    data["F"] = data["frequency_score"].astype(int).astype(str)
    data["R"] = data["recency_score"].astype(int).astype(str)
    data["segment_label"] = data["segment_label"].fillna("").replace("", "–")
    data["segments_text"] = data["segments_text"].fillna("").replace("", "–")
    data["customers_label"] = [format_count(v) for v in data["customers"]]
    data["share_label"] = [format_share(v) for v in data["share"]]
    data["revenue_label"] = [format_money(v, currency) for v in data["revenue"]]
    data["text_color"] = _text_colors(data["customers"], float(data["customers"].max() or 0))
    heatmap = hv.HeatMap(
        data,
        kdims=[
            hv.Dimension("F", label="Frequency score"),
            hv.Dimension("R", label="Recency score"),
        ],
        vdims=[
            hv.Dimension("customers", label="Customers"),
            "segment_label",
            "segments_text",
            "customers_label",
            "share_label",
            "revenue_label",
        ],
    ).opts(
        **_common("Customers by recency × frequency score"),
        cmap=HEATMAP_CMAP,
        colorbar=True,
        line_color="white",
        line_width=2,
        xlabel="Frequency score (1 = fewest purchases)",
        ylabel="Recency score (5 = most recent)",
        hover_tooltips=[
            ("R × F", "@R × @F"),
            ("Mostly", "@segment_label"),
            ("Segments", "@segments_text"),
            ("Customers", "@customers_label (@share_label)"),
            ("Revenue", "@revenue_label"),
        ],
    )
    labels = hv.Labels(data, kdims=["F", "R"], vdims=["customers_label", "text_color"]).opts(
        text_color="text_color", text_font_size="10pt"
    )
    return heatmap * labels


def _moves_axis_labels(frame: pd.DataFrame, side: str) -> list[tuple[str, str]]:
    """(slug, label) of one side, best segment first, 'no RFM' last, only those present."""
    present = dict(zip(frame[f"{side}_segment"], frame[f"{side}_label"]))
    order = [s for s in SEGMENT_ORDER if s in present]
    order += sorted(s for s in present if s not in SEGMENT_ORDER and s != NO_SEGMENT)
    if NO_SEGMENT in present:
        order.append(NO_SEGMENT)
    return [(s, present[s] or fallback_label(s)) for s in order]


def movement_heatmap(frame: pd.DataFrame) -> hv.Overlay:
    """Customers per (segment on the first day: rows, best on top) × (segment on the second day:
    columns, best on the left); every pair of the segments present, zeros included."""
    columns = ["from_segment", "to_segment", "from_label", "to_label", "customers"]
    frame = frame.reindex(columns=columns) if not frame.empty else pd.DataFrame(columns=columns)
    frame = frame.assign(customers=pd.to_numeric(frame["customers"]).fillna(0).astype(int))
    counts = {(r.from_segment, r.to_segment): r.customers for r in frame.itertuples()}
    total = sum(counts.values())
    from_axis, to_axis = _moves_axis_labels(frame, "from"), _moves_axis_labels(frame, "to")
    if not counts:  # nothing moved: an all-zero matrix of the segments, never numeric axes
        from_axis = to_axis = [(s, fallback_label(s)) for s in SEGMENT_ORDER]
    rows = []
    # Rows from the worst to the best: Bokeh puts the first factor at the bottom.
    for from_slug, from_label in reversed(from_axis):
        for to_slug, to_label in to_axis:
            customers = counts.get((from_slug, to_slug), 0)
            rows.append(
                {
                    "to_label": to_label,
                    "from_label": from_label,
                    "customers": customers,
                    "customers_label": format_count(customers),
                    "share_label": format_share(customers / total if total else 0.0),
                    "stays": "stayed" if from_slug == to_slug else "moved",
                }
            )
    data = pd.DataFrame(
        rows,
        columns=["to_label", "from_label", "customers", "customers_label", "share_label", "stays"],
    )
    data["text_color"] = _text_colors(data["customers"], float(data["customers"].max() or 0))
    data["cell_text"] = [
        label if n else "" for label, n in zip(data["customers_label"], data["customers"])
    ]
    heatmap = hv.HeatMap(
        data,
        kdims=[hv.Dimension("to_label", label="To"), hv.Dimension("from_label", label="From")],
        vdims=[
            hv.Dimension("customers", label="Customers"),
            "customers_label",
            "share_label",
            "stays",
        ],
    ).opts(
        # A fixed height for every answer: the chart is updated in place.
        **_common("Segment movement", MOVEMENT_HEIGHT),
        cmap=HEATMAP_CMAP,
        colorbar=True,
        line_color="white",
        line_width=1,
        xrotation=35,
        xlabel="Segment on the later day",
        ylabel="Segment on the earlier day",
        hover_tooltips=[
            ("From", "@from_label"),
            ("To", "@to_label"),
            ("Customers", "@customers_label (@share_label of all)"),
        ],
    )
    labels = hv.Labels(data, kdims=["to_label", "from_label"], vdims=["cell_text", "text_color"])
    return heatmap * labels.opts(text_color="text_color", text_font_size="9pt")


# -- cohorts -------------------------------------------------------------------------------------


def cohort_heatmap(
    frame: pd.DataFrame, *, metric: str = "customers", currency: str = "USD"
) -> hv.Overlay:
    """Retention by cohort (rows, oldest on top, with its size) × periods since the first
    (columns): colour = the value as a share, the percentage on each cell (while they fit) and
    on hover with the cohort's customers and revenue of that period."""
    empty = pd.Series(dtype=float)
    data = pd.DataFrame(
        {
            "cohort_start": frame.get("cohort_start", pd.Series(dtype=str)).astype(str),
            "cohort_label": frame.get("cohort_label", pd.Series(dtype=str)).astype(str),
            "size": pd.to_numeric(frame.get("size", empty)).fillna(0).astype(int),
            "offset": pd.to_numeric(frame.get("offset", empty)).fillna(0).astype(int),
            "period_start": frame.get("period_start", pd.Series(dtype=str)).astype(str),
            "customers": pd.to_numeric(frame.get("customers", empty)).fillna(0).astype(int),
            "revenue": pd.to_numeric(frame.get("revenue", empty)).fillna(0.0),
            "value": pd.to_numeric(frame.get("value", empty)),
        }
    )
    # Newest cohort first, offsets ascending: rows come out oldest on top, offsets 0, 1, 2, …
    data = data.sort_values(["cohort_start", "offset"], ascending=[False, True], kind="stable")
    data["cohort"] = [
        f"{label} (n={size:,})" for label, size in zip(data["cohort_label"], data["size"])
    ]
    data["period"] = data["offset"].astype(str)
    seen = pd.to_numeric(frame.get("observed_days", empty)).reindex(data.index)
    whole = pd.to_numeric(frame.get("period_days", empty)).reindex(data.index)
    running = (seen < whole).fillna(False).to_numpy()
    # A period still running counts only its first days: a star on the cell says so.
    data["value_label"] = [
        (format_share(v) if pd.notna(v) else "–") + (PARTIAL_MARK if part else "")
        for v, part in zip(data["value"], running)
    ]
    data["observed_label"] = [
        f"{int(s)} of {int(w)} days so far (still running)" if part else "the whole period"
        for s, w, part in zip(seen.fillna(0), whole.fillna(0), running)
    ]
    data["size_label"] = [format_count(v) for v in data["size"]]
    data["customers_label"] = [format_count(v) for v in data["customers"]]
    data["revenue_label"] = [format_money(v, currency) for v in data["revenue"]]
    top = 1.0 if metric == "customers" else max(1.0, float(data["value"].max(skipna=True) or 0))
    data["text_color"] = _text_colors(data["value"], top)
    what = "Customers active" if metric == "customers" else "Revenue vs first period"
    heatmap = hv.HeatMap(
        data,
        kdims=[
            hv.Dimension("period", label="Periods since the first purchase"),
            hv.Dimension("cohort", label="Cohort"),
        ],
        vdims=[
            hv.Dimension("value", label=what, range=(0, top)),
            "cohort_label",
            "size_label",
            "period_start",
            "value_label",
            "customers_label",
            "revenue_label",
            "observed_label",
        ],
    ).opts(
        **_common(f"Retention by cohort: {what.lower()}", rows_height(data["cohort"].nunique())),
        cmap=HEATMAP_CMAP,
        clim=(0, top),
        colorbar=True,
        # The cells show percentages: so does the colour bar (not 0 … 1).
        colorbar_opts={"formatter": NumeralTickFormatter(format="0%")},
        clipping_colors={"NaN": "#f1f1f1"},
        line_color="white",
        line_width=1,
        xlabel="Periods since the first purchase",
        ylabel="",
        hover_tooltips=[
            ("Cohort", "@cohort_label (@size_label customers)"),
            ("Period", "@period_start (+@period)"),
            (what, "@value_label"),
            ("Customers active", "@customers_label"),
            ("Revenue", "@revenue_label"),
            ("Observed", "@observed_label"),
        ],
    )
    if len(data) > MAX_LABELLED_CELLS:
        return heatmap * hv.Labels([], kdims=["period", "cohort"], vdims=["value_label"])
    labels = hv.Labels(data, kdims=["period", "cohort"], vdims=["value_label", "text_color"])
    return heatmap * labels.opts(text_color="text_color", text_font_size="8pt")
