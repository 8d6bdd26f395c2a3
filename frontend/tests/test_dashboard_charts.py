"""Chart functions: element types, colours per category, money in tooltips, empty data."""

from __future__ import annotations

import holoviews as hv
import pandas as pd
import pytest

from spendlens_dashboard import charts
from spendlens_dashboard.formatting import format_change, format_count, format_money

CATEGORIES = pd.DataFrame(
    {
        "label": ["Travel", "Groceries", "Electronics", "Other"],
        "total_spend": [1500.0, 1200.5, 300.25, 99.0],
        "transaction_count": [10, 120, 3, 9],
        "share": [0.4836, 0.3871, 0.0968, 0.0319],
    }
)
MERCHANTS = pd.DataFrame(
    {
        "label": ["Grand Stay Hotels", "FreshMart"],
        "total_spend": [800.0, 400.0],
        "transaction_count": [4, 40],
        "share": [0.5, 0.25],
        "category": ["Travel", "Groceries"],
    }
)
TIMESERIES = pd.DataFrame(
    {
        "period_start": pd.to_datetime(["2026-06-01", "2026-06-08", "2026-06-15"]),
        "total_spend": [1000.0, 1234567.891, 0.0],
        "transaction_count": [10, 2000, 0],
        "active_customers": [5, 900, 0],
    }
)
COLORS = charts.category_colors(["Travel", "Groceries", "Electronics", "Apparel"])


def colour_by_label(element) -> dict[str, str]:
    if isinstance(element, hv.Polygons):
        return {p.iloc[0]["label"]: p.iloc[0]["color"] for p in element.split(datatype="dataframe")}
    frame = element.dframe()
    return dict(zip(frame["label"], frame["color"]))


def test_chart_types():
    over_time = charts.spend_over_time(TIMESERIES, interval="week")
    assert isinstance(over_time, hv.Overlay)
    assert isinstance(over_time.Curve.I, hv.Curve) and isinstance(over_time.Scatter.I, hv.Scatter)
    assert isinstance(charts.spend_by_category(CATEGORIES, colors=COLORS), hv.Bars)
    assert isinstance(charts.category_share(CATEGORIES, colors=COLORS), hv.Polygons)
    assert isinstance(charts.top_merchants(MERCHANTS, colors=COLORS), hv.Bars)


def test_a_category_has_one_colour_in_every_chart():
    bars = colour_by_label(charts.spend_by_category(CATEGORIES, colors=COLORS))
    donut = colour_by_label(charts.category_share(CATEGORIES, colors=COLORS))
    merchants = charts.top_merchants(MERCHANTS, colors=COLORS).dframe()
    assert bars == donut
    assert bars["Other"] == charts.OTHER_COLOR
    by_merchant_category = dict(zip(merchants["category"], merchants["color"]))
    assert by_merchant_category["Travel"] == bars["Travel"]
    assert by_merchant_category["Groceries"] == bars["Groceries"]
    assert len(set(bars.values())) == len(bars)


def test_colours_do_not_depend_on_order_or_on_what_is_filtered():
    assert charts.category_colors(["B", "A"]) == charts.category_colors(["A", "B"])
    only_travel = CATEGORIES[CATEGORIES["label"] == "Travel"]
    assert colour_by_label(charts.spend_by_category(only_travel, colors=COLORS)) == {
        "Travel": COLORS["Travel"]
    }
    # Without a mapping a name still always gets the same colour.
    assert charts.stable_color("Unknown") == charts.stable_color("Unknown")


DEMO_CATEGORIES = (
    "Apparel, Books & Media, Electronics, Entertainment, Groceries, Health & Beauty, "
    "Home & Garden, Restaurants, Services, Sports & Outdoors, Toys & Games, Travel"
).split(", ")


def test_new_categories_never_change_the_colour_of_existing_ones():
    before = charts.category_colors(DEMO_CATEGORIES)
    # Names that sort first, last and in between (by position they used to move everyone).
    after = charts.category_colors([*DEMO_CATEGORIES, "Aardvarks", "Merchandise", "Zebras"])
    assert {name: after[name] for name in before} == before
    assert len(set(before.values())) == len(before)  # the demo's categories are told apart


def test_tooltips_show_formatted_money():
    curve = charts.spend_over_time(TIMESERIES, interval="week", currency="EUR").Curve.I
    frame = curve.dframe()
    assert frame["spend_label"].tolist()[1] == "€1,234,567.89"
    assert frame["period_label"].tolist()[0] == "Week of 01 Jun 2026"
    tooltips = hv.Store.lookup_options("bokeh", curve, "plot").kwargs["hover_tooltips"]
    assert ("Spend", "@spend_label") in tooltips
    bars = charts.spend_by_category(CATEGORIES, currency="USD", colors=COLORS).dframe()
    assert "$1,200.50" in set(bars["spend_label"])


def test_partial_periods_are_hollow_points_that_say_how_many_days_they_hold():
    """A range from 20 January to 10 April cuts its first and last months: those points are
    marked, so their lower totals do not read as dips in spending."""
    months = pd.DataFrame(
        {
            "period_start": pd.to_datetime(
                ["2026-01-01", "2026-02-01", "2026-03-01", "2026-04-01"]
            ),
            "total_spend": [300.0, 900.0, 1000.0, 250.0],
            "transaction_count": [3, 9, 10, 2],
            "days": [12, 28, 31, 10],
            "partial": [True, False, False, True],
        }
    )
    overlay = charts.spend_over_time(months, interval="month")
    hollow = overlay.Scatter.I.dframe()
    assert hollow["period_start"].dt.strftime("%Y-%m-%d").tolist() == ["2026-01-01", "2026-04-01"]
    assert hollow["partial_spend"].tolist() == [300.0, 250.0]
    labels = overlay.Curve.I.dframe()["days_label"].tolist()
    assert labels == [
        "only 12 days in range (partial month)",
        "whole month",
        "whole month",
        "only 10 days in range (partial month)",
    ]
    tooltips = hv.Store.lookup_options("bokeh", overlay.Curve.I, "plot").kwargs["hover_tooltips"]
    assert ("Covers", "@days_label") in tooltips
    # Without the API's flags (a customer's months, say) nothing is marked.
    plain = charts.spend_over_time(months.drop(columns=["days", "partial"]), interval="month")
    assert len(plain.Scatter.I) == 0
    figure = hv.renderer("bokeh").get_plot(overlay).state
    assert figure.title.text == charts.TITLES["spend_over_time"]


def test_bars_put_the_largest_on_top():
    bars = charts.spend_by_category(CATEGORIES, colors=COLORS).dframe()
    # Bokeh draws the first factor at the bottom of an inverted bar chart.
    assert bars["label"].tolist()[-1] == "Travel"


def test_donut_has_one_wedge_per_positive_category():
    refunds = pd.concat(
        [CATEGORIES, pd.DataFrame([{"label": "Refunded", "total_spend": -50.0, "share": -0.01}])]
    )
    donut = charts.category_share(refunds, colors=COLORS)
    labels = [p.iloc[0]["label"] for p in donut.split(datatype="dataframe")]
    assert labels == ["Travel", "Groceries", "Electronics", "Other"]


@pytest.mark.parametrize(
    "chart",
    [charts.spend_over_time, charts.spend_by_category, charts.category_share, charts.top_merchants],
)
def test_empty_data_renders_an_empty_chart(chart):
    element = chart(pd.DataFrame())
    layers = element.values() if isinstance(element, hv.Overlay) else [element]
    if chart is charts.category_share:  # one grey ring saying so
        assert [p.iloc[0]["label"] for p in element.split(datatype="dataframe")] == ["No spend"]
        assert element.dframe()["color"].unique().tolist() == [charts.EMPTY_COLOR]
    else:
        assert all(len(layer) == 0 for layer in layers)
    figure = hv.renderer("bokeh").get_plot(element).state
    assert figure.title.text == charts.TITLES[chart.__name__]


def test_a_spend_axis_without_spend_runs_from_zero():
    days = pd.DataFrame(
        {
            "period_start": pd.date_range("2026-06-01", periods=3),
            "total_spend": [0.0, 0.0, 0.0],
            "transaction_count": [0, 0, 0],
        }
    )
    figure = hv.renderer("bokeh").get_plot(charts.spend_over_time(days)).state
    assert (figure.y_range.start, figure.y_range.end) == (0, 100)
    spent = days.assign(total_spend=[5.0, 10.0, 3.0])
    figure = hv.renderer("bokeh").get_plot(charts.spend_over_time(spent)).state
    assert figure.y_range.start == 0 and 10 < figure.y_range.end < 12


def test_a_partial_period_is_a_dashed_segment_to_a_visible_marker():
    months = pd.DataFrame(
        {
            "period_start": pd.to_datetime(["2026-01-01", "2026-02-01", "2026-03-01"]),
            "total_spend": [500.0, 400.0, 90.0],
            "transaction_count": [5, 4, 1],
            "days": [31, 28, 3],
            "partial": [False, False, True],
        }
    )
    overlay = charts.spend_over_time(months, interval="month")
    solid = overlay.Curve.II.dframe()
    assert solid["line_spend"].tolist() == [500.0, 400.0]  # the whole months only
    (dashed,) = overlay.Path.I.split(datatype="dataframe")
    assert dashed["line_spend"].tolist() == [400.0, 90.0]
    options = hv.Store.lookup_options("bokeh", overlay.Path.I, "style").kwargs
    assert options["line_dash"] == "dashed"
    assert hv.Store.lookup_options("bokeh", overlay.Scatter.I, "style").kwargs["size"] >= 12


def test_rendered_axes_format_money():
    figure = hv.renderer("bokeh").get_plot(charts.spend_by_category(CATEGORIES)).state
    assert figure.xaxis[0].formatter.format.startswith("$")


def test_number_formats():
    assert format_money("723361.41", "USD") == "$723,361.41"
    assert format_money("-5", "EUR") == "-€5.00"
    assert format_money("10", "CHF") == "CHF 10.00"
    assert format_count(7233) == "7,233"
    assert format_change(0.0643) == ("▲ 6.4%", "up")
    assert format_change(-0.0109) == ("▼ 1.1%", "down")
    # Over a negative previous total (net refunds) the arrow follows the change, not the ratio.
    assert format_change(0.5, previous="-200.00") == ("▼ 50.0%", "down")
    assert format_change(-0.5, previous="-200.00") == ("▲ 50.0%", "up")
    assert format_change(None) == ("no previous data", "flat")
