"""Links, reloads and history: the view (page, filters, page options) lives in the address bar,
and a reload keeps the session through an HttpOnly cookie, never through the token in the page.

Headless Chromium against the real API, like the other test_dashboard_* modules.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

from dashboard_support import ANALYST, DEMO_PASSWORD, BrowserPage
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.probes import wait_for_charts

LAST_90_DAYS = {"start_date": "2026-04-02", "end_date": "2026-06-30"}


def fill_login(tab: Page, email: str = ANALYST, password: str = DEMO_PASSWORD) -> None:
    tab.get_by_placeholder("you@company.example").fill(email)
    tab.get_by_placeholder("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()


def log_in(bp: BrowserPage, email: str = ANALYST, password: str = DEMO_PASSWORD) -> Page:
    tab = bp.page
    tab.goto(bp.url)
    fill_login(tab, email, password)
    expect(tab.locator("[data-kpi-value=total_spend]")).not_to_have_text("…")
    wait_for_session_cookie(tab)
    return tab


def wait_for_session_cookie(tab: Page) -> dict:
    """The cookie the login gave this browser (its answer comes with the page's next request)."""
    tab.wait_for_function(
        "() => performance.getEntriesByType('resource')"
        ".some(e => e.name.includes('/session/') && e.responseEnd > 0)"
    )
    cookies = {c["name"]: c for c in tab.context.cookies()}
    assert "spendlens_session" in cookies, cookies.keys()
    return cookies["spendlens_session"]


def query_of(tab: Page) -> dict[str, list[str]]:
    return parse_qs(urlparse(tab.url).query)


HOLDS_JS = """
(wanted) => {
  const query = new URLSearchParams(window.location.search);
  return Object.entries(wanted).every(
    ([key, values]) => JSON.stringify(query.getAll(key)) === JSON.stringify(values));
}
"""


def expect_query(tab: Page, **wanted: str | list[str]) -> None:
    """Wait until the address bar holds these query values (lists: every value, in order)."""
    lists = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    tab.wait_for_function(HOLDS_JS, arg=lists)


def choose_preset(tab: Page, label: str) -> None:
    tab.locator("select:has(option:text-is('Year to date'))").select_option(label=label)


def choose_category(tab: Page, category: str) -> None:
    picker = tab.get_by_placeholder("All categories")
    picker.click()
    picker.press_sequentially(category)
    tab.get_by_role("option", name=category, exact=True).click()
    picker.press("Escape")


def open_page(tab: Page, name: str) -> None:
    tab.get_by_role("button", name=name, exact=True).click()


def active_page(tab: Page):
    return tab.locator(".bk-btn-group .bk-btn-primary.bk-active")


def test_a_copied_link_reopens_page_and_filters_in_a_new_context(
    page: BrowserPage, browser, analyst_client: ApiClient
):
    tab = log_in(page)
    choose_preset(tab, "Last 90 days")
    choose_category(tab, "Travel")
    open_page(tab, "Transactions")
    expect_query(tab, page="transactions", range="last_90_days", category="Travel")
    link = tab.url
    assert "token" not in link.lower() and "eyJ" not in link  # no JWT in the address

    travel = {**LAST_90_DAYS, "category": ["Travel"]}
    total = analyst_client.list_transactions(travel, limit=1)["total"]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = context.new_page()
        other.goto(link)
        fill_login(other)  # a colleague's browser: log in first, then the same view
        expect(other.locator(".transactions-count")).to_contain_text(
            f"{format_count(total)} transactions"
        )
        expect(active_page(other)).to_have_text("Transactions")
        categories = other.locator(".tabulator-row .tabulator-cell[tabulator-field='category']")
        assert set(categories.all_inner_texts()) == {"Travel"}
        assert query_of(other)["range"] == ["last_90_days"]
    finally:
        context.close()


def test_reload_keeps_the_session_and_the_view(page: BrowserPage):
    tab = log_in(page)
    cookie = wait_for_session_cookie(tab)
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    tab.locator(".bk-btn", has_text=re.compile("^Week$")).click()
    expect_query(tab, page="overview", interval="week")
    wait_for_charts(tab)

    tab.reload()
    expect(tab.locator("[data-kpi-value=total_spend]")).not_to_have_text("…")
    expect(tab.get_by_role("button", name="Log in")).to_have_count(0)
    expect(tab.locator(".bk-btn.bk-active", has_text=re.compile("^Week$"))).to_have_count(1)
    assert query_of(tab)["interval"] == ["week"]
    # The page and its scripts never see the key itself: only HttpOnly cookies, no token.
    assert tab.evaluate("document.cookie") == ""
    html = tab.content()
    assert cookie["value"] not in html


def test_back_and_forward_move_between_views(page: BrowserPage):
    tab = log_in(page)
    expect_query(tab, page="overview")
    open_page(tab, "Transactions")
    expect(tab.locator(".tabulator-row").first).to_be_visible()
    expect_query(tab, page="transactions")
    open_page(tab, "Cohorts")
    expect(tab.locator(".cohorts-summary")).to_contain_text("cohorts")
    metric = tab.locator("select:has(option:text-is('Revenue vs first period'))")
    metric.select_option(label="Revenue vs first period")
    expect_query(tab, page="cohorts", metric="revenue")

    tab.go_back()
    expect_query(tab, page="cohorts")
    assert "metric" not in query_of(tab)
    expect(metric).to_have_value("Customers active")
    tab.go_back()
    expect(active_page(tab)).to_have_text("Transactions")
    expect_query(tab, page="transactions")
    tab.go_back()
    expect(active_page(tab)).to_have_text("Overview")
    tab.go_forward()
    expect(active_page(tab)).to_have_text("Transactions")
    expect(tab.get_by_role("button", name="Log in")).to_have_count(0)


def test_an_expired_session_returns_to_the_same_view_after_login(
    page: BrowserPage, admin_client: ApiClient, create_user
):
    user = create_user("analyst")
    tab = log_in(page, user.email, user.password)
    open_page(tab, "Transactions")
    search = tab.get_by_placeholder("Description, category or merchant — press Enter")
    search.fill("hotel")
    search.press("Enter")
    expect_query(tab, page="transactions", q="hotel")
    admin_client.update_user(user.id, role="viewer")  # a role change revokes the token

    tab.reload()  # the cookie's session is no good any more: log in again…
    expect(tab.get_by_text("Your session has expired")).to_be_visible()
    fill_login(tab, user.email, user.password)
    # … and the page is the one of the address bar.
    expect(active_page(tab)).to_have_text("Transactions")
    expect(tab.get_by_placeholder("Description, category or merchant — press Enter")).to_have_value(
        "hotel"
    )
    expect_query(tab, page="transactions", q="hotel")


def test_logout_ends_the_session_of_the_cookie(page: BrowserPage):
    tab = log_in(page)
    tab.get_by_role("button", name="Log out").click()
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()
    tab.reload()
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()
    expect(tab.locator("[data-kpi-value=total_spend]")).to_have_count(0)
