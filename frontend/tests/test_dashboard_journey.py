"""The Journey page and the customer page's journey section in headless Chromium against the
real API: customers per stage now, the funnel (customers, conversion) and the flows between the
stages at the two ends of the sidebar's period are what GET /journey/* answers; a customer's
stage history and events are GET /customers/{id}/stages and /events.

The demo customers' stages are derived by a `journey` job: the module runs a worker and waits
for a full rebuild before it looks (read-only afterwards: one browser context for the module)."""

from __future__ import annotations

import pytest
from dashboard_support import ANALYST, BrowserPage, log_in, open_table_row, page_screenshot
from dashboard_support import rebuild_journey
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count, format_share
from spendlens_dashboard.state.journey import when

# The sidebar's default period with the dashboard's pinned today (conftest): the last 30 days.
START, END, DAY_BEFORE, TODAY = "2026-06-01", "2026-06-30", "2026-05-31", "2026-06-30"
SEARCH_PLACEHOLDER = "Name, email or external id — press Enter"


@pytest.fixture(scope="module", autouse=True)
def journey_built(job_worker, database_url: str, analyst_client: ApiClient) -> None:
    rebuild_journey(analyst_client)


def cells(tab: Page, table: str, field: str):
    return tab.locator(f".{table} .tabulator-row .tabulator-cell[tabulator-field='{field}']")


def expect_journey(tab: Page, client: ApiClient) -> None:
    stages = client.journey_stages(TODAY)
    assert stages["total"] > 0, "the demo customers have stages"
    for item in stages["stages"]:
        expect(tab.locator(f"[data-journey=stage-{item['stage']}]")).to_have_text(
            format_count(item["customers"])
        )
    expect(tab.locator("[data-journey=total]")).to_have_text(format_count(stages["total"]))

    funnel = client.journey_funnel(START, END)
    steps = funnel["steps"]
    assert steps[0]["customers"] > 0, "some demo customers were first seen in June"
    expect(cells(tab, "journey-funnel-table", "stage")).to_have_text([s["stage"] for s in steps])
    expect(cells(tab, "journey-funnel-table", "customers")).to_have_text(
        [format_count(s["customers"]) for s in steps]
    )
    expect(cells(tab, "journey-funnel-table", "conversion")).to_have_text(
        ["–" if s["conversion"] is None else format_share(s["conversion"]) for s in steps]
    )

    flows = client.journey_flows(DAY_BEFORE, END)
    links = flows["links"]
    assert links and sum(link["customers"] for link in links) == flows["total"]
    expect(tab.locator("[data-journey=flow-total]")).to_have_text(format_count(flows["total"]))
    expect(cells(tab, "journey-flows-table", "from_stage")).to_have_text(
        [link["from_stage"] for link in links]
    )
    expect(cells(tab, "journey-flows-table", "to_stage")).to_have_text(
        [link["to_stage"] for link in links]
    )
    expect(cells(tab, "journey-flows-table", "customers")).to_have_text(
        [format_count(link["customers"]) for link in links]
    )


def expect_funnel(tab: Page, funnel: dict) -> None:
    steps = funnel["steps"]
    expect(cells(tab, "journey-funnel-table", "customers")).to_have_text(
        [format_count(s["customers"]) for s in steps]
    )
    expect(cells(tab, "journey-funnel-table", "conversion")).to_have_text(
        ["–" if s["conversion"] is None else format_share(s["conversion"]) for s in steps]
    )


def a_customer_with_a_history(client: ApiClient) -> tuple[dict, dict]:
    """A demo customer whose stage changed at least once, and their stage history."""
    seen: set[int] = set()
    for event in client._get("/events", {"type": "payment_succeeded", "limit": 100})["items"]:
        if event["customer_id"] in seen:
            continue
        seen.add(event["customer_id"])
        history = client.customer_stages(event["customer_id"])
        if len(history["items"]) >= 2:
            return client.get_customer(event["customer_id"]), history
    raise AssertionError("no demo customer changed stage")


def test_journey_page_and_customer_journey_match_the_api(
    page: BrowserPage, analyst_client: ApiClient
):
    tab = log_in(page, ANALYST)
    tab.get_by_role("button", name="Journey", exact=True).click()
    expect(tab.locator("[data-journey=total]")).to_be_visible()
    expect_journey(tab, analyst_client)
    expect(tab.locator(".journey-sankey canvas, .journey-sankey .bk-Canvas").first).to_be_visible()
    expect(tab.locator(".journey-empty")).to_be_hidden()
    tab.screenshot(path=str(page_screenshot("journey")))
    tab.locator(".journey-sankey").scroll_into_view_if_needed()
    tab.screenshot(path=str(page_screenshot("journey-flows")))

    # Months instead of weeks: the stage counts over time come again (the rest stays).
    tab.locator("select:has(option:text-is('Month'))").select_option(label="Month")
    expect_journey(tab, analyst_client)

    # Conversions within 7 days of the first sighting only, then no limit again (empty).
    within = tab.locator(".journey-within-days input")
    within.fill("7")
    within.press("Enter")
    expect_funnel(tab, analyst_client.journey_funnel(START, END, within_days=7))
    within.fill("")
    within.press("Enter")
    expect_funnel(tab, analyst_client.journey_funnel(START, END))

    # A customer's stage history (oldest first) and events (newest first, paged).
    customer, history = a_customer_with_a_history(analyst_client)
    tab.get_by_role("button", name="Customers", exact=True).click()
    search = tab.get_by_placeholder(SEARCH_PLACEHOLDER)
    search.fill(customer["external_id"])
    search.press("Enter")
    expect(tab.locator(".customers-table .tabulator-row")).to_have_count(1)
    open_table_row(
        tab, tab.locator(".customers-table .tabulator-row").first, ".customer-milestones b"
    )
    expect(tab.locator("[data-customer-journey=stage]")).to_have_text(history["stage"])
    expect(cells(tab, "customer-stages", "stage")).to_have_text(
        [item["stage"] for item in history["items"]]
    )
    expect(cells(tab, "customer-stages", "valid_from")).to_have_text(
        [when(item["valid_from"]) for item in history["items"]]
    )
    events = analyst_client.customer_events(customer["id"], limit=10)
    assert events["total"] >= 2
    expect(cells(tab, "customer-events", "type")).to_have_text(
        [event["type"] for event in events["items"]]
    )
    expect(cells(tab, "customer-events", "event_id")).to_have_text(
        [str(event["event_id"]) for event in events["items"]]
    )
    expect(tab.locator(".customer-events-count")).to_contain_text(
        f"{format_count(events['total'])} events"
    )
    tab.locator(".customer-stages").scroll_into_view_if_needed()
    tab.screenshot(path=str(page_screenshot("journey-customer")))

    # Only the events of one type (GET /customers/{id}/events?type=...).
    chosen = events["items"][-1]["type"]
    of_type = analyst_client.customer_events(customer["id"], limit=10, type=chosen)
    assert of_type["total"] >= 1
    tab.locator(".customer-event-types input").click()
    tab.locator(f".customer-event-types .choices__item--choice[data-value='{chosen}']").click()
    expect(cells(tab, "customer-events", "event_id")).to_have_text(
        [str(event["event_id"]) for event in of_type["items"]]
    )
    expect(cells(tab, "customer-events", "type")).to_have_text([chosen] * len(of_type["items"]))
    expect(tab.locator(".customer-events-count")).to_contain_text(
        f"{format_count(of_type['total'])} events"
    )


def test_an_organisation_without_events_gets_the_empty_state(
    page: BrowserPage, fresh_org: tuple[str, str]
):
    tab = log_in(page, *fresh_org)
    tab.get_by_role("button", name="Journey", exact=True).click()
    expect(tab.locator(".journey-empty")).to_be_visible()
    expect(tab.get_by_text("No customer has a lifecycle stage yet")).to_be_visible()
    for stage in ("lead", "prospect", "customer", "churned"):
        expect(tab.locator(f"[data-journey=stage-{stage}]")).to_have_text("0")
    expect(tab.locator("[data-journey=total]")).to_have_text("0")
    expect(tab.locator(".journey-charts")).to_be_hidden()
    tab.screenshot(path=str(page_screenshot("journey-empty")))
