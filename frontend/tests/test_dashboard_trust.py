"""Charts and cards that tell the truth at the edges: colours that never move, filters that match
nothing, refunds only, a reset, labels that say what they count, periods still running.

Headless Chromium against the real API, like the other test_dashboard_* modules. Tests that only
read Acme's demo data share one logged-in tab (one browser context for the module).
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, SCREENSHOTS, logged_in_client
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count, format_money
from spendlens_dashboard.probes import CHARTS_JS, chart_fingerprints, wait_for_charts

LAST_30_DAYS = {"start_date": "2026-06-01", "end_date": "2026-06-30"}

# label → colour of every bar or wedge of a chart, by title.
COLORS_JS = """
(title) => {
  const out = {};
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (!('renderers' in model) || !model.title || model.title.text !== title) { continue; }
      for (const renderer of model.renderers) {
        const data = renderer.data_source && renderer.data_source.data;
        if (!data || !data.label || !data.color) { continue; }
        data.label.forEach((label, i) => { out[label] = data.color[i]; });
      }
    }
  }
  return out;
}
"""

# The y range a figure shows (start, end), by title.
Y_RANGE_JS = """
(title) => {
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if ('renderers' in model && model.title && model.title.text === title) {
        const view = window.Bokeh.index.find_one(model);
        if (!view) { continue; }  // a figure no longer on screen
        return [view.frame.y_range.start, view.frame.y_range.end];
      }
    }
  }
  return null;
}
"""


def kpi(tab: Page, key: str):
    return tab.locator(f"[data-kpi-value={key}]")


def log_in(tab: Page, url: str, email: str = ANALYST, password: str = DEMO_PASSWORD) -> None:
    tab.goto(url)
    tab.get_by_placeholder("you@company.example").fill(email)
    tab.get_by_placeholder("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    expect(kpi(tab, "total_spend")).not_to_have_text("…")
    wait_for_charts(tab)


def amount_input(tab: Page, which: int):
    return tab.locator("input[placeholder='any']").nth(which)


def expected_total(client: ApiClient, low: str | None = None, high: str | None = None) -> str:
    """The total-spend card's text the API's figures give for the demo month and amounts."""
    query = dict(LAST_30_DAYS)
    if low is not None:
        query["min_amount"] = low
    if high is not None:
        query["max_amount"] = high
    summary = client.metrics(query)
    return format_money(summary["total_spend"], summary["currency"])


def set_amounts(tab: Page, client: ApiClient, low: str | None, high: str | None) -> None:
    """Type the amount range and wait for the figures of both bounds (KPIs and charts are
    sent together). Each box sends its value on Enter, so the page reloads twice: waiting for
    any change could stop at the first bound's figures while the second's are on the way."""
    for which, value in ((0, low), (1, high)):
        box = amount_input(tab, which)
        box.fill(value or "")
        box.press("Enter")
    expect(kpi(tab, "total_spend")).to_have_text(expected_total(client, low, high))
    wait_for_charts(tab)


@pytest.fixture(scope="module")
def acme(browser, dashboard_url: str):
    """One logged-in tab on Acme's demo data for the read-only tests of this module; every
    test leaves the filters as it found them (reset)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(f"{error.message} {error.stack}"))
    log_in(tab, dashboard_url)
    tab.errors = errors
    yield tab
    context.close()


@pytest.fixture
def acme_tab(acme: Page, request, analyst_client: ApiClient):
    acme.errors.clear()
    yield acme
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    acme.screenshot(path=str(SCREENSHOTS / f"{request.node.name}.png"))
    acme.get_by_role("button", name="Reset filters").click()
    expect(kpi(acme, "total_spend")).to_have_text(expected_total(analyst_client))
    wait_for_charts(acme)


def test_filters_matching_nothing_empty_every_chart_without_page_errors(
    acme_tab: Page, analyst_client: ApiClient
):
    tab = acme_tab
    set_amounts(tab, analyst_client, "999999", None)
    expect(kpi(tab, "total_spend")).to_have_text("$0.00")
    charts = chart_fingerprints(tab)
    assert charts["Spend by category"]["labels"] == []
    assert charts["Top merchants"]["labels"] == []
    # The donut says it is empty instead of keeping the previous wedges.
    assert charts["Category share"]["labels"] == ["No spend"]
    start, end = tab.evaluate(Y_RANGE_JS, "Spend over time")
    assert start == 0 and end > 1, (start, end)  # not "$-1 … $1"
    tab.set_viewport_size({"width": 1100, "height": 800})
    tab.set_viewport_size({"width": 1440, "height": 900})
    wait_for_charts(tab)
    assert not [e for e in tab.errors if "color" in e.lower()], tab.errors
    # The cards say there is nothing, not "no previous data vs $0.00".
    card = tab.locator("[data-kpi=total_spend]")
    expect(card).to_contain_text("none in this or the previous period")
    expect(card).not_to_contain_text("no previous data")


def test_reset_filters_leaves_the_amounts_empty(acme_tab: Page, analyst_client: ApiClient):
    tab = acme_tab
    set_amounts(tab, analyst_client, "10", "500")
    tab.get_by_role("button", name="Reset filters").click()
    # The unfiltered month's figures, whichever answer the page was still waiting for.
    expect(kpi(tab, "total_spend")).to_have_text(expected_total(analyst_client))
    wait_for_charts(tab)
    for which in (0, 1):
        expect(amount_input(tab, which)).to_have_value("")
    assert "NaN" not in tab.locator(".bk-panel-models-layout-Column").first.inner_text()


def test_refunds_only_is_a_fall_in_red(acme_tab: Page, analyst_client: ApiClient):
    tab = acme_tab
    set_amounts(tab, analyst_client, None, "-0.01")  # refunds only: the total is negative
    summary = analyst_client.metrics({**LAST_30_DAYS, "max_amount": "-0.01"})
    current, previous = float(summary["total_spend"]), float(summary["previous"]["total_spend"])
    assert current < 0 and previous < 0 and current != previous
    change = tab.locator("[data-kpi-change=total_spend]")
    if current < previous:  # more refunded than before: spend fell
        expect(change).to_have_class("kpi-change down")
        expect(change).to_contain_text("▼")
    else:
        expect(change).to_have_class("kpi-change up")
        expect(change).to_contain_text("▲")


def test_labels_say_what_is_counted(acme_tab: Page, analyst_client: ApiClient):
    tab = acme_tab
    summary = analyst_client.metrics(LAST_30_DAYS)
    card = tab.locator("[data-kpi=transaction_count]")
    expect(card).to_contain_text("Purchases")
    expect(kpi(tab, "transaction_count")).to_have_text(format_count(summary["transaction_count"]))
    tab.get_by_role("button", name="Transactions", exact=True).click()
    total = analyst_client.list_transactions(LAST_30_DAYS, limit=1)["total"]
    expect(tab.locator(".transactions-count")).to_contain_text(
        f"{format_count(total)} transactions (purchases and refunds)"
    )
    tab.get_by_role("button", name="Overview", exact=True).click()


def test_one_date_format_on_the_overview(acme_tab: Page):
    tab = acme_tab
    expect(tab.get_by_text("01 Jun 2026 – 30 Jun 2026 (UTC)")).to_be_visible()
    expect(tab.get_by_text("Last 30 days · 01 Jun 2026 – 30 Jun 2026")).to_be_visible()
    picker = tab.locator("input.bk-input[readonly], input.bk-input.form-control").filter(
        has_text=""
    )
    values = [v for v in picker.evaluate_all("els => els.map(e => e.value)") if "2026" in v]
    assert values and all("Jun 2026" in v and "2026-" not in v for v in values), values


def test_new_categories_keep_the_colours_of_the_old_ones(
    page, api_url: str, fresh_org: tuple[str, str]
):
    email, password = fresh_org
    client = logged_in_client(api_url, email, password)
    customer = httpx.post(
        f"{api_url}/api/v1/customers",
        json={"name": "Colour Tester", "external_id": uuid.uuid4().hex[:8]},
        headers={"Authorization": f"Bearer {client.token}"},
        timeout=30,
    ).json()

    def spend(category: str) -> None:
        client.create_transaction(
            {
                "customer_id": customer["id"],
                "occurred_at": "2026-06-20T12:00:00Z",
                "amount": "25.00",
                "category": category,
            }
        )

    for category in ("Travel", "Groceries", "Electronics"):
        spend(category)
    tab = page.page
    log_in(tab, page.url, email, password)
    before = tab.evaluate(COLORS_JS, "Spend by category")
    assert set(before) == {"Travel", "Groceries", "Electronics"}

    # New names sorting before, between and after the old ones.
    for category in ("Aardvarks", "Fishing", "Zebras"):
        spend(category)
    tab.reload()  # the session carries on; the catalog is read again
    expect(kpi(tab, "total_spend")).to_have_text("$150.00")
    wait_for_charts(tab)
    after = tab.evaluate(COLORS_JS, "Spend by category")
    assert {name: after[name] for name in before} == before
    client.close()


# Dashed lines and markers of the spend chart: [{dash, points}], [{size, x, inside}].
PARTIAL_JS = """
(title) => {
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (!('renderers' in model) || !model.title || model.title.text !== title) { continue; }
      const view = window.Bokeh.index.find_one(model);
      if (!view) { continue; }  // a figure no longer on screen
      const x = view.frame.x_range;
      const dashed = [], markers = [];
      for (const renderer of model.renderers) {
        const glyph = renderer.glyph, data = renderer.data_source.data;
        const dash = glyph.line_dash && 'value' in glyph.line_dash
          ? glyph.line_dash.value : glyph.line_dash;
        if (dash && dash.length && data.xs) {
          for (const xs of data.xs) { dashed.push(xs.length); }
        }
        if (data.partial_spend) {
          const size = glyph.size.value;
          for (const v of data.period_start) {
            markers.push({size, inside: v > x.start && v < x.end});
          }
        }
      }
      return {dashed, markers};
    }
  }
  return null;
}
"""


def test_a_partial_month_is_dashed_with_a_visible_marker(acme_tab: Page):
    tab = acme_tab
    before = chart_fingerprints(tab)
    tab.locator("select:has(option:text-is('Year to date'))").select_option(label="Last 90 days")
    wait_for_charts(tab, changed_from=before)
    tab.get_by_role("button", name="Month", exact=True).click()
    # Only the time series changes: wait for its three months (April, May, June).
    tab.wait_for_function(
        f"() => {{ const c = ({CHARTS_JS.strip()})()['Spend over time'];"
        " return c && c.drawn && c.rows === 3; }"
    )
    # 2 Apr – 30 Jun: April is cut at its start, June is whole.
    shown = tab.evaluate(PARTIAL_JS, "Spend over time")
    assert shown["dashed"] == [2], shown  # one dashed segment: April → May
    assert len(shown["markers"]) == 1 and shown["markers"][0]["size"] >= 12
    assert shown["markers"][0]["inside"], "the marker is cut by the frame's edge"
    tab.get_by_role("button", name="Day", exact=True).click()


def test_the_running_week_of_cohorts_is_marked(acme_tab: Page):
    tab = acme_tab
    tab.get_by_role("button", name="Cohorts", exact=True).click()
    tab.locator("select:has(option:text-is('Quarter'))").select_option(label="Week")
    # Dashboard today is Tuesday 30 June 2026: its week (from Monday 29 June) is 2 days old.
    running = tab.locator(".cohorts-running")
    expect(running).to_contain_text("29 Jun 2026 is still running: 2 of 7 days so far")
    starred = tab.locator(".cohorts-table .tabulator-cell", has_text="*")
    expect(starred.first).to_be_visible()
    tab.locator("select:has(option:text-is('Quarter'))").select_option(label="Month")
    expect(running).to_have_count(0)  # 30 June is the last day of June: no month running
    tab.get_by_role("button", name="Overview", exact=True).click()
