"""The dashboard in headless Chromium against the real API: what an analyst sees and does.

Every wait is on a condition (Playwright's expect / wait_for_function); every test also checks
that the page asked no host but the dashboard's (and the API's) for anything.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from urllib.parse import urlparse

import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, VIEWER, BrowserPage
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_change, format_count, format_money
from spendlens_dashboard.probes import chart_box, chart_fingerprints, wait_for_charts

LAST_30_DAYS = {"start_date": "2026-06-01", "end_date": "2026-06-30"}
LAST_90_DAYS = {"start_date": "2026-04-02", "end_date": "2026-06-30"}
SEARCH_PLACEHOLDER = "Description, category or merchant — press Enter"


def log_in(bp: BrowserPage, email: str, password: str = DEMO_PASSWORD, *, wait: bool = True):
    page = bp.page
    page.goto(bp.url)
    page.get_by_placeholder("you@company.example").fill(email)
    page.get_by_placeholder("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    if wait:
        expect(kpi(page, "total_spend")).not_to_have_text("…")
        wait_for_charts(page)
    return page


def kpi(page: Page, key: str):
    return page.locator(f"[data-kpi-value={key}]")


def choose_preset(page: Page, label: str) -> None:
    page.locator("select:has(option:text-is('Year to date'))").select_option(label=label)


def choose_category(page: Page, category: str) -> None:
    picker = page.get_by_placeholder("All categories")
    picker.click()
    picker.press_sequentially(category)
    page.get_by_role("option", name=category, exact=True).click()
    picker.press("Escape")


def open_transactions(page: Page) -> None:
    page.get_by_role("button", name="Transactions", exact=True).click()
    expect(page.locator(".tabulator-row").first).to_be_visible()


def row_ids(page: Page) -> list[int]:
    cells = page.locator(".tabulator-row .tabulator-cell[tabulator-field='id']")
    return [int(t.replace(",", "")) for t in cells.all_inner_texts()]


def expect_kpis(page: Page, summary: dict) -> None:
    currency = summary["currency"]
    expect(kpi(page, "total_spend")).to_have_text(format_money(summary["total_spend"], currency))
    expect(kpi(page, "transaction_count")).to_have_text(format_count(summary["transaction_count"]))
    expect(kpi(page, "average_transaction")).to_have_text(
        format_money(summary["average_transaction"], currency)
    )
    expect(kpi(page, "active_customers")).to_have_text(format_count(summary["active_customers"]))


def test_login_shows_kpis_and_charts_matching_the_api(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    summary = analyst_client.metrics(LAST_30_DAYS)
    expect_kpis(tab, summary)
    for key in ("total_spend", "transaction_count", "average_transaction", "active_customers"):
        text, direction = format_change(summary["change"][key])
        change = tab.locator(f"[data-kpi-change={key}]")
        expect(change).to_contain_text(text)
        expect(change).to_have_class(f"kpi-change {direction}")
    expect(tab.get_by_text("Ben Carter")).to_be_visible()
    expect(tab.get_by_text("Acme Retail")).to_be_visible()

    charts = chart_fingerprints(tab)
    assert charts["Spend over time"]["rows"] == 30
    assert charts["Spend over time"]["total"] == pytest.approx(float(summary["total_spend"]), 0.01)
    by_category = analyst_client.breakdown(LAST_30_DAYS, by="category", top=25)
    assert set(charts["Spend by category"]["labels"]) == {i["label"] for i in by_category["items"]}
    assert len(charts["Top merchants"]["labels"]) == 10

    # Hovering the line shows the day's spend as money.
    box = chart_box(tab, "Spend over time")
    tab.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    tooltip = tab.locator(".bk-Tooltip").first
    expect(tooltip).to_contain_text("Spend")
    expect(tooltip).to_contain_text(re.compile(r"\$[\d,]+\.\d\d"))
    tab.screenshot(path=str(page_screenshot("overview-analyst")))


def test_date_range_and_category_update_charts_and_table(
    page: BrowserPage, analyst_client: ApiClient
):
    tab = log_in(page, ANALYST)
    before = chart_fingerprints(tab)
    choose_preset(tab, "Last 90 days")
    wait_for_charts(tab, changed_from=before)
    expect_kpis(tab, analyst_client.metrics(LAST_90_DAYS))
    assert chart_fingerprints(tab)["Spend over time"]["rows"] == 90

    before = chart_fingerprints(tab)
    choose_category(tab, "Travel")
    wait_for_charts(tab, changed_from=before)
    travel = {**LAST_90_DAYS, "category": ["Travel"]}
    expect_kpis(tab, analyst_client.metrics(travel))
    charts = chart_fingerprints(tab)
    assert charts["Spend by category"]["labels"] == ["Travel"]

    open_transactions(tab)
    total = analyst_client.list_transactions(travel, limit=1)["total"]
    expect(tab.locator(".transactions-count")).to_contain_text(
        f"{format_count(total)} transactions"
    )
    categories = tab.locator(".tabulator-row .tabulator-cell[tabulator-field='category']")
    assert set(categories.all_inner_texts()) == {"Travel"}


def test_paging_and_sorting_go_through_the_api(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    open_transactions(tab)
    first = analyst_client.list_transactions(LAST_30_DAYS, skip=0, limit=20)
    expect(tab.locator(".tabulator-row")).to_have_count(20)
    assert row_ids(tab) == [t["id"] for t in first["items"]]

    tab.locator(".tabulator-page[data-page='next']").click()
    pages = -(-first["total"] // 20)
    expect(tab.locator(".transactions-count")).to_contain_text(f"page 2 of {pages}")
    second = analyst_client.list_transactions(LAST_30_DAYS, skip=20, limit=20)
    expect(tab.locator(".tabulator-row .tabulator-cell[tabulator-field='id']").first).to_have_text(
        f"{second['items'][0]['id']}"
    )
    assert row_ids(tab) == [t["id"] for t in second["items"]]

    tab.locator(".tabulator-col[tabulator-field='amount'] .tabulator-col-title").click()
    cheapest = analyst_client.list_transactions(LAST_30_DAYS, sort="amount", limit=20)
    expect(tab.locator(".transactions-count")).to_contain_text("page 1 of")
    expect(tab.locator(".tabulator-row .tabulator-cell[tabulator-field='id']").first).to_have_text(
        f"{cheapest['items'][0]['id']}"
    )
    assert row_ids(tab) == [t["id"] for t in cheapest["items"]]


def test_csv_download_is_the_filtered_set(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    choose_category(tab, "Travel")
    open_transactions(tab)
    search = tab.get_by_placeholder(SEARCH_PLACEHOLDER)
    search.fill("hotel")
    search.press("Enter")
    expected = {**LAST_30_DAYS, "category": ["Travel"], "q": "hotel"}
    total = analyst_client.list_transactions(expected, limit=1)["total"]
    assert total > 0
    expect(tab.locator(".transactions-count")).to_contain_text(
        f"{format_count(total)} transactions"
    )
    link = tab.locator("a.csv-download-link")
    expect(link).to_have_attribute("href", _contains("q=hotel"))
    assert "token" not in (link.get_attribute("href") or "").lower()
    with tab.expect_download() as download:
        link.click()
    text = open(download.value.path(), encoding="utf-8").read()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "id" and {"occurred_at", "category", "amount"} <= set(rows[0])
    assert len(rows) - 1 == total
    assert {r[rows[0].index("category")] for r in rows[1:]} == {"Travel"}
    assert download.value.suggested_filename.endswith(".csv")


def test_logout_clears_the_session(page: BrowserPage):
    tab = log_in(page, ANALYST)
    open_transactions(tab)
    href = tab.locator("a.csv-download-link").get_attribute("href")
    tab.get_by_role("button", name="Log out").click()
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()
    expect(tab.get_by_text("Ben Carter")).to_have_count(0)
    expect(kpi(tab, "total_spend")).to_have_count(0)
    # The download link of the old session is dead too.
    assert tab.request.get(page.url + href).status == 404


def test_wrong_password_shows_its_message(page: BrowserPage, create_user):
    user = create_user()
    tab = log_in(page, user.email, "not-the-password", wait=False)
    expect(tab.get_by_text("Incorrect email or password.")).to_be_visible()
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()


def test_lockout_says_when_to_retry(page: BrowserPage, api_client: ApiClient, create_user):
    user = create_user()
    for _ in range(10):
        try:
            api_client.login(user.email, "wrong")
        except Exception:  # noqa: BLE001 - the failures are the point
            pass
    tab = log_in(page, user.email, user.password, wait=False)
    expect(tab.get_by_text("Too many failed login attempts")).to_be_visible()
    expect(tab.get_by_text("Too many failed login attempts")).to_contain_text("Try again in")


def test_viewer_sees_no_write_controls(page: BrowserPage):
    tab = log_in(page, VIEWER)
    expect(tab.locator(".user-role")).to_have_text("viewer")
    open_transactions(tab)
    expect(tab.get_by_role("button", name="Add transaction")).to_have_count(0)
    expect(tab.locator(".transaction-editor")).to_have_count(0)
    expect(tab.get_by_role("button", name="Delete")).to_have_count(0)


def test_analyst_adds_edits_and_deletes_a_transaction(page: BrowserPage, analyst_client: ApiClient):
    description = f"browser test {uuid.uuid4().hex[:8]}"
    tab = log_in(page, ANALYST)
    open_transactions(tab)
    tab.get_by_placeholder("e.g. 42").fill("7")
    tab.get_by_placeholder("12.34").fill("42.42")
    category = tab.locator("select:not([multiple]):has(option:text-is('Groceries'))")
    category.select_option("Travel")
    tab.get_by_placeholder("What was bought").fill(description)
    tab.get_by_role("button", name="Add transaction").click()
    expect(tab.locator(".notyf__message", has_text="added")).to_be_visible()
    search = tab.get_by_placeholder(SEARCH_PLACEHOLDER)
    search.fill(description)
    search.press("Enter")
    expect(tab.locator(".transactions-count")).to_contain_text("1 transactions")
    row = tab.locator(".tabulator-row").first
    expect(row.locator(".tabulator-cell[tabulator-field='description']")).to_have_text(description)
    expect(row.locator(".tabulator-cell[tabulator-field='amount']")).to_have_text("42.42")
    found = analyst_client.list_transactions({"q": description})
    assert found["total"] == 1 and found["items"][0]["customer_id"] == 7
    transaction_id = found["items"][0]["id"]

    # Edit: selecting the row fills the form with what the API holds.
    row.click()
    expect(tab.get_by_text(f"Transaction {transaction_id}", exact=True)).to_be_visible()
    expect(category).to_have_value("Travel")
    amount = tab.get_by_placeholder("12.34")
    expect(amount).to_have_value("42.42")
    amount.fill("43.00")
    tab.get_by_role("button", name="Save changes").click()
    expect(row.locator(".tabulator-cell[tabulator-field='amount']")).to_have_text("43.00")
    assert analyst_client.get_transaction(transaction_id)["amount"] == "43.00"

    # Delete asks for a second click.
    row.click()
    expect(tab.get_by_text(f"Transaction {transaction_id}", exact=True)).to_be_visible()
    tab.get_by_role("button", name="Delete").click()
    tab.get_by_role("button", name=f"Confirm delete #{transaction_id}").click()
    expect(tab.locator(".transactions-count")).to_contain_text("0 transactions")
    expect(tab.get_by_text("No transactions match")).to_be_visible()
    assert analyst_client.list_transactions({"q": description})["total"] == 0


def test_a_failed_call_is_a_notification_not_a_traceback(page: BrowserPage):
    tab = log_in(page, ANALYST)
    # More digits than the API accepts for an amount: it answers 422.
    minimum = tab.locator("input[placeholder='any']").first
    minimum.fill("1000000000000000")
    minimum.press("Enter")
    message = tab.locator(".notyf__message", has_text="Could not load data")
    expect(message).to_be_visible()
    expect(message).to_contain_text("min_amount")
    expect(tab.get_by_text("Traceback")).to_have_count(0)
    expect(tab.get_by_text("Ben Carter")).to_be_visible()  # still logged in


def test_revoked_token_returns_to_login_with_a_message(
    page: BrowserPage, admin_client: ApiClient, create_user
):
    user = create_user("analyst")
    tab = log_in(page, user.email, user.password)
    admin_client.update_user(user.id, role="viewer")  # a role change revokes the token
    choose_preset(tab, "Last 90 days")
    expect(tab.get_by_text("Your session has expired")).to_be_visible()
    expect(tab.get_by_role("button", name="Log in")).to_be_visible()


def test_theme_switch_keeps_the_session_and_no_request_leaves(page: BrowserPage):
    tab = log_in(page, ANALYST)
    tab.locator(".theme-switch .bk-knob").click()
    expect(tab.locator("html")).to_have_attribute("data-bs-theme", "dark")
    before = chart_fingerprints(tab)
    expect(tab.locator(".partial-note")).to_be_hidden()  # 30 days: whole days only
    tab.get_by_role("button", name="Week").click()
    wait_for_charts(tab, changed_from={"Spend over time": before["Spend over time"]})
    # 1–30 June 2026 starts on a Monday and ends on a Tuesday: five weeks, the last one cut,
    # which the page says (its total is two days' spending, not a dip).
    assert chart_fingerprints(tab)["Spend over time"]["rows"] == 5
    expect(tab.locator(".partial-note")).to_be_visible()
    open_transactions(tab)
    expect(tab.get_by_text("Ben Carter")).to_be_visible()
    hosts = {urlparse(u).netloc for u in page.requests if u.startswith("http")}
    assert hosts == {urlparse(page.url).netloc}


# The background of every titled chart on screen (models of pages not shown stay in the
# document until they are drawn again).
CHART_BACKGROUNDS_JS = """
(detail) => {
  const out = [];
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (!('renderers' in model) || !model.title || !model.title.text) { continue; }
      const view = window.Bokeh.index.find_one(model);
      if (view && view.el.isConnected && view.el.offsetParent !== null) {
        out.push(detail ? model.title.text + ': ' + model.background_fill_color
                        : model.background_fill_color);
      }
    }
  }
  return out;
}
"""
DARK_BACKGROUND = "#2b3035"  # Panel's dark Bokeh theme


def chart_backgrounds(tab: Page, detail: bool = False) -> list[str]:
    return tab.evaluate(CHART_BACKGROUNDS_JS, detail)


def wait_until_dark(tab: Page, expression: str) -> None:
    """Wait for `expression`; on a timeout, say which chart kept which background.

    The switch redraws every chart of every page opened so far, one after the other on the
    session's thread: on a loaded two-core machine that can take longer than the usual wait."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        tab.wait_for_function(expression, timeout=60_000)
    except PlaywrightTimeout:
        raise AssertionError(f"not every chart dark: {chart_backgrounds(tab, True)}") from None


def test_the_dark_theme_reaches_the_charts_of_every_page(page: BrowserPage):
    """Charts drawn before the switch are redrawn dark, and pages opened after it draw dark."""
    tab = log_in(page, ANALYST)
    tab.get_by_role("button", name="Segments", exact=True).click()
    expect(tab.locator(".bk-Canvas, canvas").first).to_be_visible()
    tab.wait_for_function(f"({CHART_BACKGROUNDS_JS.strip()})().length >= 4")
    assert DARK_BACKGROUND not in chart_backgrounds(tab)
    tab.locator(".theme-switch .bk-knob").click()
    expect(tab.locator("html")).to_have_attribute("data-bs-theme", "dark")
    every_chart_dark = (
        f"(() => {{ const b = ({CHART_BACKGROUNDS_JS.strip()})(); "
        f"return b.length >= 4 && b.every(c => c === '{DARK_BACKGROUND}'); }})()"
    )
    wait_until_dark(tab, every_chart_dark)  # the segments' charts, redrawn
    tab.get_by_role("button", name="Cohorts", exact=True).click()  # a page opened after
    expect(tab.locator("[data-cohorts=count]")).to_be_visible()
    tab.wait_for_function(f"({CHART_BACKGROUNDS_JS.strip()})().length >= 1")
    wait_until_dark(tab, every_chart_dark.replace(">= 4", ">= 1"))
    tab.get_by_role("button", name="Overview", exact=True).click()  # the live charts
    wait_until_dark(tab, every_chart_dark)
    tab.locator(".theme-switch .bk-knob").click()  # and back to light
    tab.wait_for_function(
        f"(() => {{ const b = ({CHART_BACKGROUNDS_JS.strip()})(); "
        f"return b.length >= 4 && b.every(c => c !== '{DARK_BACKGROUND}'); }})()"
    )


def page_screenshot(name: str):
    from dashboard_support import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def _contains(fragment: str):
    return re.compile(".*" + re.escape(fragment) + ".*")
