"""Charts and tables of the Journey page and the customer page's journey section, from API
answers: the counts they carry, the Sankey's named nodes, durations, empty answers."""

from __future__ import annotations

import holoviews as hv

from spendlens_dashboard import journey_charts
from spendlens_dashboard.pages.journey import (
    flows_table_frame,
    funnel_table_frame,
    milestones_html,
    stage_cards_html,
)
from spendlens_dashboard.state.journey import events_frame, history_frame, stage_points_frame

FLOWS = {
    "start": "2026-05-31T23:59:59.999999Z",
    "end": "2026-06-30T23:59:59.999999Z",
    "total": 9,
    "nodes": [],
    "links": [
        {"from_stage": "new", "to_stage": "lead", "customers": 4},
        {"from_stage": "lead", "to_stage": "customer", "customers": 3},
        {"from_stage": "customer", "to_stage": "churned", "customers": 2},
        {"from_stage": "churned", "to_stage": "churned", "customers": 0},
    ],
}
FUNNEL = {
    "start": "2026-06-01",
    "end": "2026-06-30",
    "within_days": None,
    "steps": [
        {
            "stage": "lead",
            "customers": 10,
            "conversion": None,
            "conversion_from_lead": 1.0,
            "median_seconds": 0.0,
            "p90_seconds": 0.0,
        },
        {
            "stage": "prospect",
            "customers": 5,
            "conversion": 0.5,
            "conversion_from_lead": 0.5,
            "median_seconds": 5400.0,
            "p90_seconds": 86400.0 * 3,
        },
        {
            "stage": "customer",
            "customers": 0,
            "conversion": 0.0,
            "conversion_from_lead": 0.0,
            "median_seconds": None,
            "p90_seconds": None,
        },
    ],
}


def test_sankey_names_each_stage_on_both_sides_and_drops_empty_links():
    sankey = journey_charts.flows_sankey(FLOWS)
    assert isinstance(sankey, hv.Sankey)
    edges = {(s, t): n for s, t, n in sankey.dframe()[["source", "target", "customers"]].values}
    assert edges == {
        ("new (start)", "lead (end)"): 4,
        ("lead (start)", "customer (end)"): 3,
        ("customer (start)", "churned (end)"): 2,
    }
    hv.render(sankey)  # Bokeh can draw it


def test_empty_answers_give_empty_charts_not_errors():
    for chart in (
        journey_charts.flows_sankey({**FLOWS, "links": [], "total": 0}),
        journey_charts.funnel_bars(None),
        journey_charts.stages_over_time(stage_points_frame(None)),
    ):
        hv.render(chart)
    assert funnel_table_frame(None).empty and flows_table_frame(None).empty
    assert "…" in stage_cards_html(None)


def test_funnel_bars_and_table_carry_counts_conversions_and_durations():
    bars = journey_charts.funnel_bars(FUNNEL)
    assert list(bars.dframe()["customers"]) == [10, 5, 0]
    table = funnel_table_frame(FUNNEL)
    assert list(table["conversion"]) == ["–", "50.0%", "0.0%"]
    assert list(table["median"]) == ["0 s", "1.5 h", "–"]
    assert list(table["p90"]) == ["0 s", "3.0 days", "–"]
    hv.render(bars)


def test_stages_over_time_stacks_the_four_stages():
    points = stage_points_frame(
        {
            "points": [
                {
                    "period_start": f"2026-0{m}-01",
                    "as_of": f"2026-0{m}-28",
                    "partial": False,
                    "lead": m,
                    "prospect": 2,
                    "customer": 10 * m,
                    "churned": 1,
                    "total": 11 * m + 3,
                }
                for m in (4, 5, 6)
            ]
        }
    )
    chart = journey_charts.stages_over_time(points)
    tops = [area.dframe()["customers"].tolist() for area in chart]
    assert tops[-1] == [11.0 * m + 3 for m in (4, 5, 6)]  # the last layer tops at the total
    hv.render(chart)


def test_cards_history_and_events_show_the_answers():
    cards = stage_cards_html(
        {
            "as_of": "2026-06-30T23:59:59Z",
            "total": 1234,
            "stages": [
                {"stage": "lead", "customers": 1000, "share": 0.8104},
                {"stage": "prospect", "customers": 0, "share": 0.0},
                {"stage": "customer", "customers": 234, "share": 0.1896},
                {"stage": "churned", "customers": 0, "share": 0.0},
            ],
        }
    )
    assert 'data-journey="stage-lead">1,000<' in cards and "81.0% of all" in cards
    history = {
        "customer_id": 7,
        "stage": "customer",
        "pending": False,
        "first_seen_at": "2026-01-01T10:00:00Z",
        "prospect_at": None,
        "customer_at": "2026-01-02T00:00:00+00:00",
        "reactivations": 1,
        "items": [
            {
                "stage": "lead",
                "valid_from": "2026-01-01T10:00:00Z",
                "valid_to": "2026-01-02T00:00:00Z",
                "reactivation": False,
            },
            {
                "stage": "customer",
                "valid_from": "2026-01-02T00:00:00Z",
                "valid_to": None,
                "reactivation": True,
            },
        ],
    }
    frame = history_frame(history)
    assert frame.to_dict("records") == [
        {
            "stage": "lead",
            "valid_from": "2026-01-01 10:00",
            "valid_to": "2026-01-02 00:00",
            "reactivation": "",
        },
        {
            "stage": "customer",
            "valid_from": "2026-01-02 00:00",
            "valid_to": "now",
            "reactivation": "yes",
        },
    ]
    assert '<b data-customer-journey="stage">customer</b>' in milestones_html(history)
    assert "&lt;x&gt;" in milestones_html({**history, "stage": "<x>"})
    events = events_frame(
        {
            "items": [
                {
                    "event_id": "5f1d0b7e-0000-4000-8000-000000000001",
                    "type": "payment_succeeded",
                    "occurred_at": "2026-06-30T22:04:00+02:00",
                    "properties": {"amount": "9.50"},
                }
            ]
        }
    )
    assert events.iloc[0]["occurred_at"] == "2026-06-30 20:04"
    assert events.iloc[0]["properties"] == "amount=9.50"
