"""The Customers page in headless Chromium against the real API: search, sort, and one
customer's page, each checked against what the API answers for the same question."""

from __future__ import annotations


import httpx
from dashboard_support import (
    ANALYST,
    BrowserPage,
    log_in,
    open_table_row,
    page_screenshot,
    wait_for_job,
)
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count, format_money

SEARCH_PLACEHOLDER = "Name, email or external id — press Enter"


def open_customers(tab: Page) -> None:
    tab.get_by_role("button", name="Customers", exact=True).click()
    expect(tab.locator(".customers-table .tabulator-row").first).to_be_visible()


def row_ids(tab: Page) -> list[int]:
    cells = tab.locator(".customers-table .tabulator-row .tabulator-cell[tabulator-field='id']")
    return [int(t.replace(",", "")) for t in cells.all_inner_texts()]


def expect_rows(tab: Page, answer: dict) -> None:
    """The table shows the API's page: the count, then the same customers in the same order."""
    expect(tab.locator(".customers-count")).to_contain_text(
        f"{format_count(answer['total'])} customers"
    )
    first = tab.locator(".customers-table .tabulator-row .tabulator-cell[tabulator-field='id']")
    expect(first.first).to_have_text(str(answer["items"][0]["id"]))
    expect(tab.locator(".customers-table .tabulator-row")).to_have_count(len(answer["items"]))
    assert row_ids(tab) == [c["id"] for c in answer["items"]]


def test_search_sort_and_open_a_customer(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    open_customers(tab)
    expect_rows(tab, analyst_client.list_customers(sort="name", limit=20))

    # Search by a name: the first word of the biggest spender's name.
    top = analyst_client.list_customers(sort="-total_spend", limit=1)["items"][0]
    term = top["name"].split()[0]
    search = tab.get_by_placeholder(SEARCH_PLACEHOLDER)
    search.fill(term)
    search.press("Enter")
    expected = analyst_client.list_customers({"q": term}, sort="name", limit=20)
    assert expected["total"] >= 1
    expect_rows(tab, expected)

    # Sorting by total spend goes through the API (ascending, then descending).
    header = tab.locator(
        ".customers-table .tabulator-col[tabulator-field='total_spend'] .tabulator-col-title"
    )
    header.click()
    expect_rows(tab, analyst_client.list_customers({"q": term}, sort="total_spend", limit=20))
    header.click()
    by_spend = analyst_client.list_customers({"q": term}, sort="-total_spend", limit=20)
    expect_rows(tab, by_spend)
    spend = tab.locator(
        ".customers-table .tabulator-row .tabulator-cell[tabulator-field='total_spend']"
    )
    assert spend.first.inner_text() == format_money(by_spend["items"][0]["total_spend"], "USD")

    # Opening a customer shows the API's totals, spend per month and recent transactions.
    customer = by_spend["items"][0]
    open_table_row(
        tab,
        tab.locator(".customers-table .tabulator-row").first,
        ".customer-detail .customer-profile",
    )
    detail = analyst_client.get_customer(customer["id"])
    expect(tab.locator("[data-customer-total=total_spend]")).to_have_text(
        format_money(detail["total_spend"], "USD")
    )
    expect(tab.locator("[data-customer-total=transaction_count]")).to_have_text(
        format_count(detail["transaction_count"])
    )
    expect(tab.locator(".customer-profile")).to_contain_text(customer["name"])
    recent = tab.locator(".customer-recent .tabulator-row")
    expect(recent).to_have_count(len(detail["recent_transactions"]))
    if detail["monthly_spend"]:
        expect(
            tab.locator(".customer-detail .bk-Canvas, .customer-detail canvas").first
        ).to_be_visible()
    tab.screenshot(path=str(page_screenshot("customer-detail")))

    # Back to the list, which kept its search and sort.
    tab.get_by_role("button", name="← All customers").click()
    expect_rows(tab, by_spend)


def choose_segment(tab: Page, label: str) -> None:
    picker = tab.get_by_placeholder("Any segment")
    picker.click()
    picker.press_sequentially(label)
    tab.get_by_role("option", name=label, exact=True).click()
    picker.press("Escape")


def test_segment_filter_lists_the_snapshots_members(
    page: BrowserPage, analyst_client: ApiClient, api_url: str, job_worker
):
    """After an RFM snapshot (queued through the API, run by the worker), picking segments
    lists exactly the customers the API puts in them."""
    answer = httpx.post(
        f"{api_url}/api/v1/segments/recompute",
        json={"as_of": "2026-06-30"},
        headers={"Authorization": f"Bearer {analyst_client.token}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    assert wait_for_job(analyst_client, answer.json()["id"])["state"] == "succeeded"
    tab = log_in(page, ANALYST)
    open_customers(tab)
    choose_segment(tab, "Champions")
    champions = analyst_client.list_customers({"segment": ["champions"]}, sort="name", limit=20)
    assert 0 < champions["total"] < analyst_client.list_customers(limit=1)["total"]
    expect_rows(tab, champions)
    choose_segment(tab, "At Risk")
    both = {"segment": ["champions", "at_risk"]}
    expected = analyst_client.list_customers(both, sort="name", limit=20)
    assert expected["total"] > champions["total"]
    expect_rows(tab, expected)
    # Each row names its segment, as the API does.
    segments = tab.locator(
        ".customers-table .tabulator-row .tabulator-cell[tabulator-field='segment']"
    )
    labels = {"champions": "Champions", "at_risk": "At Risk"}
    assert segments.all_inner_texts() == [labels[c["segment"]] for c in expected["items"]]


def test_sorting_by_lifetime_value_goes_through_the_api(
    page: BrowserPage, analyst_client: ApiClient, job_worker
):
    """With a CLV fit (queued through the API, run by the worker), the CLV column shows each
    customer's value and sorts the list by it."""
    fit = analyst_client.create_clv_fit(
        {
            "calibration_start": "2024-07-01",
            "calibration_end": "2025-12-31",
            "holdout_end": "2026-06-30",
        }
    )
    assert wait_for_job(analyst_client, fit["job_id"])["state"] == "succeeded"
    tab = log_in(page, ANALYST)
    open_customers(tab)
    header = tab.locator(
        ".customers-table .tabulator-col[tabulator-field='clv'] .tabulator-col-title"
    )
    header.click()
    expect_rows(tab, analyst_client.list_customers(sort="clv", limit=20))
    header.click()
    by_value = analyst_client.list_customers(sort="-clv", limit=20)
    expect_rows(tab, by_value)
    values = tab.locator(".customers-table .tabulator-row .tabulator-cell[tabulator-field='clv']")
    assert values.all_inner_texts() == [format_money(c["clv"], "USD") for c in by_value["items"]]


def test_filters_apply_without_reload(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    open_customers(tab)
    tab.locator("select:has(option:text-is('Churned'))").select_option(label="Churned")
    churned = analyst_client.list_customers({"lifecycle_stage": "churned"}, sort="name", limit=20)
    expect_rows(tab, churned)
    country = churned["items"][0]["country"]
    countries = tab.get_by_placeholder("ISO codes, e.g. DE FR")
    countries.fill(country.lower())
    countries.press("Enter")
    both = {"lifecycle_stage": "churned", "country": [country]}
    expect_rows(tab, analyst_client.list_customers(both, sort="name", limit=20))
    stages = tab.locator(
        ".customers-table .tabulator-row .tabulator-cell[tabulator-field='lifecycle_stage']"
    )
    assert set(stages.all_inner_texts()) == {"churned"}


def test_a_search_without_match_shows_the_empty_state(page: BrowserPage):
    tab = log_in(page, ANALYST)
    open_customers(tab)
    search = tab.get_by_placeholder(SEARCH_PLACEHOLDER)
    search.fill("no-such-customer-zzzz")
    search.press("Enter")
    expect(tab.locator(".customers-count")).to_contain_text("0 customers")
    expect(tab.get_by_text("No customers match")).to_be_visible()


# -- pure helpers (no browser) -------------------------------------------------------------------


def test_table_sorters_become_the_apis_sort():
    from spendlens_dashboard.pages.customers import api_sort

    assert api_sort([]) == "name"
    assert api_sort([{"field": "total_spend", "dir": "asc"}]) == "total_spend"
    assert api_sort([{"field": "total_spend", "dir": "desc"}]) == "-total_spend"
    assert api_sort([{"field": "signup_date", "dir": "desc"}]) == "-signup"
    assert api_sort([{"field": "email", "dir": "asc"}]) == "name"


def test_customer_filters_become_query_params():
    from datetime import date

    from spendlens_dashboard.state.customers import CustomersStore, parse_countries

    assert parse_countries(" de, fr  nl") == ["DE", "FR", "NL"]
    store = CustomersStore(ApiClient("http://unused"))
    assert store.query_params() == {}
    store.param.update(
        countries=["DE", "FR"], signup_from=date(2024, 1, 1), lifecycle_stage="churned"
    )
    # (Each change tried to load from an API that is not there: the failure is in `error`.)
    assert store.error is not None
    assert store.query_params() == {
        "country": ["DE", "FR"],
        "signup_from": "2024-01-01",
        "lifecycle_stage": "churned",
    }
