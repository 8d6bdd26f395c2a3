"""The Cohorts page in headless Chromium against the real API: the cohort sizes and retention
percentages shown are what GET /cohorts answers for the same period, metric and range (observed
up to the dashboard's pinned today), before and after each control changes."""

from __future__ import annotations

from dashboard_support import ANALYST, SCREENSHOTS, BrowserPage, log_in
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count, format_day, format_share

TODAY = "2026-06-30"  # SPENDLENS_DASHBOARD_TODAY of the test run (conftest)


def open_cohorts(tab: Page) -> None:
    tab.get_by_role("button", name="Cohorts", exact=True).click()
    expect(tab.locator("[data-cohorts=count]")).to_be_visible()


def pick_date(tab: Page, css_class: str, day: str) -> None:
    """Choose a day in a Panel DatePicker (a flatpickr input) as a click on the calendar would."""
    tab.locator(f".{css_class} input").first.evaluate(
        "(input, day) => input._flatpickr.setDate(day, true)", day
    )


def column(tab: Page, field: str):
    return tab.locator(f".cohorts-table .tabulator-row .tabulator-cell[tabulator-field='{field}']")


def expect_matrix(tab: Page, matrix: dict) -> None:
    """The summary and the table show the API's cohorts: sizes, and the value of the first
    periods of each (as percentages; '–' when undefined, blank past the last period)."""
    cohorts = matrix["cohorts"]
    expect(tab.locator("[data-cohorts=as_of]")).to_have_text(format_day(matrix["as_of"]))
    expect(tab.locator("[data-cohorts=customers]")).to_have_text(
        format_count(sum(c["size"] for c in cohorts))
    )
    expect(tab.locator("[data-cohorts=count]")).to_have_text(str(len(cohorts)))
    expect(column(tab, "size")).to_have_text([format_count(c["size"]) for c in cohorts])
    for offset in (0, 1, 2):
        wanted = []
        for cohort in cohorts:
            cell = next((c for c in cohort["cells"] if c["offset"] == offset), None)
            if cell is None:
                wanted.append("")
            else:
                wanted.append("–" if cell["value"] is None else format_share(cell["value"]))
        expect(column(tab, f"p{offset}")).to_have_text(wanted)


def test_cohorts_page_matches_the_api(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    open_cohorts(tab)

    monthly = analyst_client.cohorts("month", "customers", as_of=TODAY)
    assert len(monthly["cohorts"]) == 12 and sum(c["size"] for c in monthly["cohorts"]) > 0
    # Not a trivial table: some cohort keeps some of its customers the month after.
    assert any(0 < c["cells"][1]["value"] < 1 for c in monthly["cohorts"] if len(c["cells"]) > 1)
    expect_matrix(tab, monthly)
    expect(tab.locator(".cohorts-heatmap canvas").first).to_be_visible()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "cohorts.png"))

    # Quarters, then revenue: each time the API's new answer.
    tab.locator("select:has(option:text-is('Quarter'))").select_option(label="Quarter")
    expect_matrix(tab, analyst_client.cohorts("quarter", "customers", as_of=TODAY))
    tab.locator("select:has(option:text-is('Revenue vs first period'))").select_option(
        label="Revenue vs first period"
    )
    revenue = analyst_client.cohorts("quarter", "revenue", as_of=TODAY)
    expect_matrix(tab, revenue)
    expect(tab.locator(".cohorts-summary")).to_contain_text("net spend")

    # A range of weeks chosen by hand.
    tab.locator("select:has(option:text-is('Week'))").select_option(label="Week")
    pick_date(tab, "cohorts-start", "2026-04-01")
    pick_date(tab, "cohorts-end", "2026-05-31")
    weekly = analyst_client.cohorts("week", "revenue", "2026-04-01", "2026-05-31", as_of=TODAY)
    assert weekly["start"] == "2026-03-30" and len(weekly["cohorts"]) == 9
    expect_matrix(tab, weekly)
    expect(tab.locator(".cohorts-heatmap canvas").first).to_be_visible()


def test_a_range_without_first_purchases_shows_the_empty_state(
    page: BrowserPage, analyst_client: ApiClient
):
    tab = log_in(page, ANALYST)
    open_cohorts(tab)
    pick_date(tab, "cohorts-start", "2015-01-01")
    pick_date(tab, "cohorts-end", "2015-06-30")
    empty = analyst_client.cohorts("month", "customers", "2015-01-01", "2015-06-30", as_of=TODAY)
    assert [c["size"] for c in empty["cohorts"]] == [0] * 6
    expect_matrix(tab, empty)
    expect(tab.get_by_text("there are no cohorts to follow")).to_be_visible()
    expect(tab.locator(".cohorts-chart")).to_be_hidden()
    tab.get_by_role("button", name="Default range").click()
    expect_matrix(tab, analyst_client.cohorts("month", "customers", as_of=TODAY))
    expect(tab.get_by_text("there are no cohorts to follow")).to_be_hidden()
