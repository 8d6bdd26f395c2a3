"""Drill-down: a click on a category bar, a donut wedge or a merchant bar filters every chart
(and the table) to it; the breadcrumb above the page lists the filters, each removed in one
click. Headless Chromium against the real API; one logged-in tab for the module."""

from __future__ import annotations

import math

import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, SCREENSHOTS
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_money
from spendlens_dashboard.probes import chart_box, chart_fingerprints, wait_for_charts

LAST_30_DAYS = {"start_date": "2026-06-01", "end_date": "2026-06-30"}

# Where a bar's (or a wedge's) label sits on screen: the middle of its glyph, in page pixels.
BAR_CENTRE_JS = """
([title, label]) => {
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (!('renderers' in model) || !model.title || model.title.text !== title) { continue; }
      const view = window.Bokeh.index.find_one(model);
      if (!view) { continue; }
      for (const renderer of model.renderers) {
        const data = renderer.data_source.data;
        if (!data.label || !data.total_spend) { continue; }
        const i = Array.from(data.label).indexOf(label);
        if (i < 0) { return null; }
        view.el.scrollIntoView({block: 'center'});  // a click must land inside the window
        const frame = view.frame;
        // Horizontal bars: spend on x, the label's factor on y.
        const x = frame.x_scale.compute(data.total_spend[i] / 2);
        const y = frame.y_scale.compute(label);
        const canvas = view.canvas_view.el.getBoundingClientRect();
        return {x: canvas.x + x, y: canvas.y + y};
      }
    }
  }
  return null;
}
"""


def kpi(tab: Page, key: str):
    return tab.locator(f"[data-kpi-value={key}]")


@pytest.fixture
def tab(browser, dashboard_url: str):
    """A logged-in browser of its own per test: each one changes the filters, and a page
    shared with the previous test could still be settling from its reset when the next
    test's click lands."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto(dashboard_url)
    page.get_by_placeholder("you@company.example").fill(ANALYST)
    page.get_by_placeholder("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(kpi(page, "total_spend")).not_to_have_text("…")
    wait_for_charts(page)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "drill-down.png"))
    context.close()


@pytest.fixture
def overview(tab: Page):
    yield tab


def click_bar(tab: Page, title: str, label: str) -> None:
    point = tab.evaluate(BAR_CENTRE_JS, [title, label])
    assert point is not None, f"no bar {label!r} in {title!r}"
    before = chart_fingerprints(tab)
    tab.mouse.click(point["x"], point["y"])
    wait_for_charts(tab, changed_from=before)


def test_a_category_bar_filters_every_chart_and_the_table(overview: Page, analyst_client):
    tab = overview
    click_bar(tab, "Spend by category", "Travel")
    travel = {**LAST_30_DAYS, "category": ["Travel"]}
    summary = analyst_client.metrics(travel)
    expect(kpi(tab, "total_spend")).to_have_text(format_money(summary["total_spend"], "USD"))
    charts = chart_fingerprints(tab)
    assert charts["Spend by category"]["labels"] == ["Travel"]
    assert charts["Category share"]["labels"] == ["Travel"]
    assert charts["Spend over time"]["total"] == pytest.approx(float(summary["total_spend"]), 0.01)
    # The sidebar picker and the address follow.
    expect(tab.locator(".choices__item--selectable", has_text="Travel").first).to_be_visible()
    assert "category=Travel" in tab.url
    tab.get_by_role("button", name="Transactions", exact=True).click()
    categories = tab.locator(".tabulator-row .tabulator-cell[tabulator-field='category']")
    expect(categories.first).to_have_text("Travel")
    assert set(categories.all_inner_texts()) == {"Travel"}


def test_a_merchant_bar_and_the_breadcrumb(overview: Page, analyst_client: ApiClient):
    tab = overview
    merchants = chart_fingerprints(tab)["Top merchants"]["labels"]
    top = merchants[-1]  # largest on top: the last factor
    click_bar(tab, "Top merchants", top)
    summary = analyst_client.metrics({**LAST_30_DAYS, "merchant": [top]})
    expect(kpi(tab, "total_spend")).to_have_text(format_money(summary["total_spend"], "USD"))
    chip = tab.locator(".filter-chip", has_text=f"Merchant: {top}")
    expect(chip).to_be_visible()

    before = chart_fingerprints(tab)
    chip.get_by_role("button").click()  # one click removes it
    wait_for_charts(tab, changed_from=before)
    expect(tab.locator(".filter-chip")).to_have_count(0)
    assert "merchant=" not in tab.url


def test_a_donut_wedge_filters_to_its_category(overview: Page):
    tab = overview
    box = chart_box(tab, "Category share")
    assert box is not None
    # The first wedge (the largest category) starts at twelve o'clock, clockwise: click just
    # right of the top of the ring.
    largest = chart_fingerprints(tab)["Spend by category"]["labels"][-1]
    frame = tab.evaluate(
        """(title) => {
          for (const doc of window.Bokeh.documents) for (const m of doc.all_models) {
            if ('renderers' in m && m.title && m.title.text === title) {
              const v = window.Bokeh.index.find_one(m); if (!v) continue;
              const c = v.canvas_view.el.getBoundingClientRect();
              return {x: c.x + v.frame.x_scale.compute(0), y: c.y + v.frame.y_scale.compute(0),
                      r: Math.abs(v.frame.x_scale.compute(1) - v.frame.x_scale.compute(0))};
            }
          }
          return null;
        }""",
        "Category share",
    )
    angle = math.radians(10)  # 10° clockwise from twelve
    radius = frame["r"] * 0.78
    before = chart_fingerprints(tab)
    tab.mouse.click(frame["x"] + radius * math.sin(angle), frame["y"] - radius * math.cos(angle))
    wait_for_charts(tab, changed_from=before)
    assert chart_fingerprints(tab)["Category share"]["labels"] == [largest]
    expect(tab.locator(".filter-chip", has_text=f"Category: {largest}")).to_be_visible()
