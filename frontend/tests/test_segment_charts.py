"""Charts of the Segments and Cohorts pages, and the frames they are drawn from: the cells and
counts they carry, the order of their axes, money and shares in their tooltips, empty data."""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import pytest

from spendlens_dashboard import segment_charts
from spendlens_dashboard.pages.cohorts import cohorts_table_frame, summary_html
from spendlens_dashboard.pages.segments import moves_table_frame, segments_table_frame
from spendlens_dashboard.state.analytics import (
    SEGMENT_LABELS,
    cohort_frame,
    cohort_label,
    grid_frame,
    moves_frame,
    segments_frame,
)

SEGMENTS = list(SEGMENT_LABELS)


def grid_answer() -> dict:
    """A GET /segments/grid answer: customers = 10 R + F in every cell but (1, 1), empty."""
    cells = []
    for r in (5, 4, 3, 2, 1):
        for f in (1, 2, 3, 4, 5):
            n = 0 if (r, f) == (1, 1) else 10 * r + f
            parts = [] if n == 0 else [{"segment": "champions", "customers": n - 1}]
            if n:
                parts.append({"segment": "lost", "customers": 1})
            cells.append(
                {
                    "recency_score": r,
                    "frequency_score": f,
                    "customers": n,
                    "share": round(n / 800, 4),
                    "revenue": f"{n * 12.5:.2f}",
                    "segment": "champions" if n else None,
                    "segments": parts,
                }
            )
    return {"currency": "EUR", "customers": 800, "cells": cells}


def overview_answer() -> dict:
    rows = []
    for i, slug in enumerate(SEGMENTS):
        n = 0 if slug == "promising" else 10 * (i + 1)
        rows.append(
            {
                "segment": slug,
                "label": SEGMENT_LABELS[slug],
                "description": f"who {slug}",
                "customers": n,
                "share": round(n / 500, 4),
                "revenue": f"{n * 100.5:.2f}",
                "revenue_share": round(n / 500, 4),
                "average_recency_days": None if n == 0 else 12.5,
                "average_frequency": None if n == 0 else 3.25,
                "average_monetary": None if n == 0 else "100.50",
                "average_r_score": None if n == 0 else 4.5,
                "average_f_score": None if n == 0 else 3.0,
                "average_m_score": None if n == 0 else 2.75,
            }
        )
    return {"currency": "EUR", "customers": 500, "revenue": "50250.00", "segments": rows}


MATRIX = {
    "period": "month",
    "metric": "customers",
    "currency": "USD",
    "as_of": "2026-06-30",
    "start": "2026-04-01",
    "end": "2026-06-01",
    "cohorts": [
        {
            "cohort_start": "2026-04-01",
            "size": 40,
            "first_period_revenue": "1000.00",
            "cells": [
                {"offset": 0, "period_start": "2026-04-01", "customers": 40, "revenue": "1000.00",
                 "value": 1.0},
                {"offset": 1, "period_start": "2026-05-01", "customers": 13, "revenue": "250.25",
                 "value": 0.325},
                {"offset": 2, "period_start": "2026-06-01", "customers": 9, "revenue": "99.00",
                 "value": 0.225},
            ],
        },
        {
            "cohort_start": "2026-05-01",
            "size": 0,
            "first_period_revenue": "0.00",
            "cells": [
                {"offset": 0, "period_start": "2026-05-01", "customers": 0, "revenue": "0.00",
                 "value": None},
                {"offset": 1, "period_start": "2026-06-01", "customers": 0, "revenue": "0.00",
                 "value": None},
            ],
        },
        {
            "cohort_start": "2026-06-01",
            "size": 7,
            "first_period_revenue": "70.00",
            "cells": [
                {"offset": 0, "period_start": "2026-06-01", "customers": 7, "revenue": "70.00",
                 "value": 1.0},
            ],
        },
    ],
}  # fmt: skip


def heatmap_and_labels(overlay: hv.Overlay) -> tuple[hv.HeatMap, hv.Labels]:
    heatmap = next(e for e in overlay if isinstance(e, hv.HeatMap))
    labels = next(e for e in overlay if isinstance(e, hv.Labels))
    return heatmap, labels


def tooltips(element) -> list[tuple[str, str]]:
    return hv.Store.lookup_options("bokeh", element, "plot").kwargs["hover_tooltips"]


class TestRfHeatmap:
    def test_25_cells_with_the_apis_counts_and_money_in_the_orgs_currency(self):
        frame = grid_frame(grid_answer(), {"champions": "Champions", "lost": "Lost"})
        heatmap, labels = heatmap_and_labels(segment_charts.rf_heatmap(frame, currency="EUR"))
        data = heatmap.dframe()
        assert len(data) == 25
        counts = {(int(r), int(f)): int(n) for r, f, n in zip(data.R, data.F, data.customers)}
        assert counts == {
            (r, f): 0 if (r, f) == (1, 1) else 10 * r + f for r in range(1, 6) for f in range(1, 6)
        }
        cell = data[(data.R == "5") & (data.F == "3")].iloc[0]
        assert cell.revenue_label == "€662.50"
        assert cell.share_label == "6.6%"
        assert cell.segment_label == "Champions"
        assert cell.segments_text == "Champions 52, Lost 1"
        empty = data[(data.R == "1") & (data.F == "1")].iloc[0]
        assert (empty.segment_label, empty.segments_text, empty.customers_label) == ("–", "–", "0")
        # The figures written on the cells are the counts.
        assert sorted(labels.dframe().customers_label, key=int) == sorted(
            data.customers_label, key=int
        )
        assert ("Revenue", "@revenue_label") in tooltips(heatmap)

    def test_axes_run_from_1_to_5_with_recency_5_on_top(self):
        plot = hv.render(segment_charts.rf_heatmap(grid_frame(grid_answer())))
        assert list(plot.x_range.factors) == ["1", "2", "3", "4", "5"]
        # Bokeh draws the first factor at the bottom.
        assert list(plot.y_range.factors) == ["1", "2", "3", "4", "5"]

    def test_the_darkest_cells_get_white_figures(self):
        data = segment_charts.rf_heatmap(grid_frame(grid_answer())).get(1).dframe()
        colours = dict(zip(data.customers_label, data.text_color))
        assert colours["55"] == segment_charts.LIGHT_TEXT
        assert colours["12"] == segment_charts.DARK_TEXT


class TestSegmentBars:
    def test_one_bar_per_segment_best_on_top_in_its_colour(self):
        frame = segments_frame(overview_answer())
        bars = segment_charts.segment_bars(frame, measure="customers", currency="EUR")
        data = bars.dframe()
        assert list(data.label) == [SEGMENT_LABELS[s] for s in reversed(SEGMENTS)]
        assert dict(zip(data.segment, data.color)) == segment_charts.SEGMENT_COLORS
        champions = data[data.segment == "champions"].iloc[0]
        assert (champions.customers, champions.revenue_label) == (10, "€1,005.00")
        assert champions.share_label == "2.0%"
        plot = hv.render(bars)
        assert list(plot.y_range.factors)[-1] == "Champions"

    def test_revenue_bars_measure_money(self):
        frame = segments_frame(overview_answer())
        bars = segment_charts.segment_bars(frame, measure="revenue", currency="GBP")
        assert bars.vdims[0].name == "revenue"
        assert bars.dframe().revenue.sum() == pytest.approx(50250.0)
        assert ("Revenue", "@revenue_label (@revenue_share_label)") in tooltips(bars)
        assert "£" in bars.dframe().revenue_label.iloc[0]
        with pytest.raises(ValueError):
            segment_charts.segment_bars(frame, measure="margin")


class TestMovementHeatmap:
    MOVEMENT = {
        "moves": [
            {"from_segment": "champions", "to_segment": "champions", "customers": 30},
            {"from_segment": "champions", "to_segment": "at_risk", "customers": 5},
            {"from_segment": "lost", "to_segment": "champions", "customers": 1},
            {"from_segment": None, "to_segment": "new", "customers": 14},
        ]
    }

    def test_a_full_matrix_of_the_segments_present_zeros_included(self):
        frame = moves_frame(self.MOVEMENT, SEGMENT_LABELS)
        assert list(frame.from_label) == ["Champions", "Champions", "Lost", "No RFM yet"]
        heatmap, labels = heatmap_and_labels(segment_charts.movement_heatmap(frame))
        data = heatmap.dframe()
        assert len(data) == 3 * 3  # from: champions, lost, none; to: champions, new, at_risk
        got = {(f, t): int(n) for f, t, n in zip(data.from_label, data.to_label, data.customers)}
        assert got[("Champions", "At Risk")] == 5
        assert got[("No RFM yet", "New")] == 14
        assert got[("Lost", "At Risk")] == 0
        assert sum(got.values()) == 50
        share = data[(data.from_label == "Champions") & (data.to_label == "Champions")]
        assert share.iloc[0].share_label == "60.0%"
        # Zero cells carry no figure.
        assert sorted(t for t in labels.dframe().cell_text if t) == ["1", "14", "30", "5"]
        plot = hv.render(segment_charts.movement_heatmap(frame))
        assert list(plot.x_range.factors) == ["Champions", "New", "At Risk"]
        assert list(plot.y_range.factors) == ["No RFM yet", "Lost", "Champions"]

    def test_the_table_lists_the_moves_in_the_apis_order(self):
        table = moves_table_frame(moves_frame(self.MOVEMENT, SEGMENT_LABELS))
        assert table.values.tolist() == [
            ["Champions", "Champions", "30"],
            ["Champions", "At Risk", "5"],
            ["Lost", "Champions", "1"],
            ["No RFM yet", "New", "14"],
        ]


class TestCohortHeatmap:
    def test_cells_values_as_percentages_and_cohort_sizes_on_the_rows(self):
        frame = cohort_frame(MATRIX)
        heatmap, labels = heatmap_and_labels(segment_charts.cohort_heatmap(frame, currency="USD"))
        data = heatmap.dframe()
        assert len(data) == 6
        by_cell = {(c, p): v for c, p, v in zip(data.cohort, data.period, data.value_label)}
        assert by_cell[("Apr 2026 (n=40)", "1")] == "32.5%"
        assert by_cell[("Apr 2026 (n=40)", "2")] == "22.5%"
        assert by_cell[("May 2026 (n=0)", "0")] == "–"  # an empty cohort: no share
        assert by_cell[("Jun 2026 (n=7)", "0")] == "100.0%"
        revenue = data[(data.cohort == "Apr 2026 (n=40)") & (data.period == "1")].iloc[0]
        assert revenue.revenue_label == "$250.25"
        assert "32.5%" in set(labels.dframe().value_label)
        plot = hv.render(segment_charts.cohort_heatmap(frame))
        assert list(plot.x_range.factors) == ["0", "1", "2"]
        # Oldest cohort on top (the last factor).
        assert list(plot.y_range.factors)[-1] == "Apr 2026 (n=40)"

    def test_revenue_values_above_one_widen_the_colour_scale(self):
        matrix = {**MATRIX, "metric": "revenue"}
        frame = cohort_frame(matrix).assign(value=lambda f: f.value.where(f.offset != 1, 1.8))
        heatmap = segment_charts.cohort_heatmap(frame, metric="revenue").get(0)
        assert hv.Store.lookup_options("bokeh", heatmap, "plot").kwargs["clim"] == (0, 1.8)
        customers = segment_charts.cohort_heatmap(frame, metric="customers").get(0)
        assert hv.Store.lookup_options("bokeh", customers, "plot").kwargs["clim"] == (0, 1.0)

    def test_many_cells_are_shown_on_hover_only(self):
        rows = [
            {"cohort_start": f"2026-01-{d:02d}", "cohort_label": f"c{d}", "size": 1,
             "offset": k, "period_start": "x", "customers": 1, "revenue": 1.0, "value": 0.5}
            for d in range(1, 29) for k in range(20)
        ]  # fmt: skip
        overlay = segment_charts.cohort_heatmap(pd.DataFrame(rows))
        heatmap, labels = heatmap_and_labels(overlay)
        assert len(heatmap.dframe()) == 560 and len(labels.dframe()) == 0

    def test_the_table_has_sizes_and_a_percentage_per_period(self):
        table = cohorts_table_frame(MATRIX)
        assert list(table.columns) == ["cohort", "size", "first_period_revenue", "p0", "p1", "p2"]
        assert table.values.tolist() == [
            ["Apr 2026", "40", "$1,000.00", "100.0%", "32.5%", "22.5%"],
            ["May 2026", "0", "$0.00", "–", "–", ""],
            ["Jun 2026", "7", "$70.00", "100.0%", "", ""],
        ]
        html = summary_html(MATRIX)
        assert '<span data-cohorts="count">3</span>' in html
        assert '<span data-cohorts="customers">47</span>' in html


@pytest.mark.parametrize(
    ("day", "period", "label"),
    [
        ("2026-01-05", "week", "Week of 05 Jan 2026"),
        ("2026-02-01", "month", "Feb 2026"),
        ("2026-07-01", "quarter", "2026 Q3"),
    ],
)
def test_cohort_labels(day, period, label):
    assert cohort_label(day, period) == label


@pytest.mark.parametrize(
    "chart",
    [
        segment_charts.rf_heatmap,
        segment_charts.segment_bars,
        segment_charts.movement_heatmap,
        segment_charts.cohort_heatmap,
    ],
)
@pytest.mark.parametrize(
    "frame",
    [
        pd.DataFrame(),
        grid_frame(None),
        segments_frame(None),
        moves_frame(None),
        cohort_frame(None),
        cohort_frame({"period": "week", "cohorts": []}),
    ],
)
def test_empty_frames_draw_empty_charts(chart, frame):
    element = chart(frame)
    hv.render(element)  # Bokeh can draw it


def test_nothing_moved_is_an_all_zero_matrix_with_named_axes():
    heatmap, _ = heatmap_and_labels(segment_charts.movement_heatmap(moves_frame({"moves": []})))
    data = heatmap.dframe()
    assert len(data) == 100 and data.customers.sum() == 0
    assert "Can't Lose Them" in set(data.from_label)


def test_segments_table_formats_every_figure():
    table = segments_table_frame(segments_frame(overview_answer()), "EUR")
    first = table.iloc[0].to_dict()
    assert first == {
        "label": "Champions",
        "customers": "10",
        "share": "2.0%",
        "revenue": "€1,005.00",
        "revenue_share": "2.0%",
        "average_recency_days": "12.5",
        "average_frequency": "3.25",
        "average_monetary": "€100.50",
        "average_r_score": "4.50",
        "average_f_score": "3.00",
        "average_m_score": "2.75",
        "description": "who champions",
    }
    empty = table[table.label == "Promising"].iloc[0]
    assert (empty.customers, empty.average_monetary, empty.average_r_score) == ("0", "–", "–")
