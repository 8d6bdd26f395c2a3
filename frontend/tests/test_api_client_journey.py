"""The dashboard's ApiClient against the real API for the customer journey: stages now and over
time, the funnel, the flows and one customer's stage history and events (demo data, with the
`journey` job the seed queued run by a worker)."""

from __future__ import annotations

import pytest
from dashboard_support import rebuild_journey

from spendlens_dashboard.api import ApiClient, ApiError

STAGES = ["lead", "prospect", "customer", "churned"]


@pytest.fixture(scope="module", autouse=True)
def journey_built(job_worker, database_url: str, analyst_client: ApiClient) -> None:
    rebuild_journey(analyst_client)


def a_customer_with_events(client: ApiClient) -> int:
    events = client._get("/events", {"limit": 1})
    assert events["items"], "the demo organisation has events"
    return events["items"][0]["customer_id"]


def test_stages_now_and_at_a_date(analyst_client: ApiClient):
    now = analyst_client.journey_stages()
    assert [s["stage"] for s in now["stages"]] == STAGES
    assert now["total"] == sum(s["customers"] for s in now["stages"]) > 0
    earlier = analyst_client.journey_stages("2026-03-01")
    assert earlier["as_of"].startswith("2026-03-01T23:59:59")
    assert earlier["total"] <= now["total"]


def test_timeseries_by_interval(analyst_client: ApiClient):
    weekly = analyst_client.journey_timeseries("week", "2026-04-01", "2026-06-30")
    assert weekly["interval"] == "week" and weekly["end"] == "2026-06-30"
    last = weekly["points"][-1]
    assert last["as_of"] == "2026-06-30"
    at_end = analyst_client.journey_stages("2026-06-30")
    assert {s: last[s] for s in STAGES} == {s["stage"]: s["customers"] for s in at_end["stages"]}
    monthly = analyst_client.journey_timeseries("month", "2026-01-01", "2026-06-30")
    assert [p["period_start"] for p in monthly["points"]] == [f"2026-0{m}-01" for m in range(1, 7)]


def test_funnel_and_within_days(analyst_client: ApiClient):
    funnel = analyst_client.journey_funnel("2026-01-01", "2026-06-30")
    assert [s["stage"] for s in funnel["steps"]] == ["lead", "prospect", "customer"]
    leads, prospects, customers = (s["customers"] for s in funnel["steps"])
    assert leads >= prospects >= customers and leads > 0
    quick = analyst_client.journey_funnel("2026-01-01", "2026-06-30", within_days=0)
    assert quick["within_days"] == 0
    assert quick["steps"][2]["customers"] <= customers


def test_flows_sum_to_the_total(analyst_client: ApiClient):
    flows = analyst_client.journey_flows("2026-04-01", "2026-06-30")
    assert sum(link["customers"] for link in flows["links"]) == flows["total"]
    for side in ("start", "end"):
        nodes = [n for n in flows["nodes"] if n["side"] == side]
        assert sum(n["customers"] for n in nodes) == flows["total"]
    with pytest.raises(ApiError) as caught:
        analyst_client.journey_flows("not-a-day", "2026-06-30")
    assert caught.value.status == 422


def test_one_customers_stages_and_events(analyst_client: ApiClient):
    customer_id = a_customer_with_events(analyst_client)
    history = analyst_client.customer_stages(customer_id)
    assert history["customer_id"] == customer_id and history["items"]
    assert history["items"][-1]["valid_to"] is None
    assert history["stage"] == history["items"][-1]["stage"]
    events = analyst_client.customer_events(customer_id, limit=2)
    assert events["total"] >= 1 and len(events["items"]) == min(2, events["total"])
    assert {e["customer_id"] for e in events["items"]} == {customer_id}
    times = [e["occurred_at"] for e in events["items"]]
    assert times == sorted(times, reverse=True)
    kind = events["items"][0]["type"]
    only = analyst_client.customer_events(customer_id, type=kind, limit=100)
    assert only["items"] and {e["type"] for e in only["items"]} == {kind}
    with pytest.raises(ApiError) as caught:
        analyst_client.customer_stages(10**12)
    assert caught.value.status == 404
