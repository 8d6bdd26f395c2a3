"""The Segments page in headless Chromium against the real API: the headline figures, the
segments table, the R × F heatmap's data and the movement between two days are what the API
answers for the same question, before and after the as-of and movement dates change."""

from __future__ import annotations

from datetime import date, timedelta

from dashboard_support import ANALYST, SCREENSHOTS, BrowserPage, log_in
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count, format_money

EARLIER = "2026-03-31"

# Every Bokeh ColumnDataSource of the page whose columns include all of `names`, as plain
# objects (Bokeh keeps `data` as a Map or an object, columns as arrays or typed arrays).
SOURCES_JS = """
(names) => {
  const found = [];
  for (const doc of window.Bokeh.documents) {
    for (const model of doc.all_models) {
      if (!model.data || model.constructor.__name__ !== 'ColumnDataSource') continue;
      const data = model.data instanceof Map ? Object.fromEntries(model.data) : model.data;
      if (!names.every((n) => n in data)) continue;
      const plain = {};
      for (const n of names) plain[n] = Array.from(data[n]);
      found.push(plain);
    }
  }
  return found;
}
"""


def pick_date(tab: Page, css_class: str, day: str) -> None:
    """Choose a day in a Panel DatePicker (a flatpickr input) as a click on the calendar would."""
    tab.locator(f".{css_class} input").first.evaluate(
        "(input, day) => input._flatpickr.setDate(day, true)", day
    )


def expect_segments(tab: Page, overview: dict) -> None:
    """The cards and the table show the API's answer for one day."""
    expect(tab.locator("[data-segments-kpi=customers]")).to_have_text(
        format_count(overview["customers"])
    )
    expect(tab.locator("[data-segments-kpi=revenue]")).to_have_text(
        format_money(overview["revenue"], overview["currency"])
    )
    expect(tab.locator(".segments-source")).to_contain_text(
        f"{date.fromisoformat(overview['as_of']):%d %b %Y}"
    )
    rows = tab.locator(".segments-table .tabulator-row")
    expect(rows).to_have_count(len(overview["segments"]))
    labels = tab.locator(".segments-table .tabulator-cell[tabulator-field='label']")
    counts = tab.locator(".segments-table .tabulator-cell[tabulator-field='customers']")
    expect(counts).to_have_text([format_count(s["customers"]) for s in overview["segments"]])
    assert labels.all_inner_texts() == [s["label"] for s in overview["segments"]]


def heatmap_cells(tab: Page) -> dict[tuple[str, str], int]:
    sources = tab.evaluate(SOURCES_JS, ["R", "F", "customers", "revenue_label"])
    assert len(sources) == 1, sources
    source = sources[0]
    return {(r, f): int(n) for r, f, n in zip(source["R"], source["F"], source["customers"])}


def expect_heatmap(tab: Page, grid: dict) -> None:
    expected = {
        (str(c["recency_score"]), str(c["frequency_score"])): c["customers"] for c in grid["cells"]
    }
    assert len(expected) == 25
    tab.wait_for_function(
        f"() => JSON.stringify(({SOURCES_JS})(['R', 'customers', 'revenue_label'])"
        f".map(s => s.customers.reduce((a, b) => a + Number(b), 0))) === '[{grid['customers']}]'"
    )
    assert heatmap_cells(tab) == expected


def expect_movement(tab: Page, movement: dict) -> None:
    moves = movement["moves"]
    total = sum(m["customers"] for m in moves)
    stayed = sum(m["customers"] for m in moves if m["from_segment"] == m["to_segment"])
    expect(tab.locator("[data-movement-total]")).to_have_text(format_count(total))
    expect(tab.locator("[data-movement-stayed]")).to_have_text(format_count(stayed))
    expect(tab.locator(".movement-note")).to_contain_text(movement["from_date"])
    # The table's first rows (it scrolls): the API's moves, in its order.
    counts = tab.locator(".movement-table .tabulator-cell[tabulator-field='customers']")
    expect(counts.first).to_have_text(format_count(moves[0]["customers"]))
    shown = counts.all_inner_texts()
    assert shown == [format_count(m["customers"]) for m in moves[: len(shown)]]
    assert len(shown) >= min(len(moves), 5)


def test_segments_page_matches_the_api(page: BrowserPage, analyst_client: ApiClient):
    tab = log_in(page, ANALYST)
    tab.get_by_role("button", name="Segments", exact=True).click()

    # The default day is the API's: the latest snapshot, or today computed.
    overview = analyst_client.segments()
    assert overview["customers"] > 0
    expect_segments(tab, overview)
    expect(tab.locator(".segments-as-of input").first).to_have_value(overview["as_of"])
    for chart in ("segments-customers", "segments-revenue", "segments-heatmap"):
        expect(tab.locator(f".{chart} canvas").first).to_be_visible()
    expect_heatmap(tab, analyst_client.segment_grid())
    champions = next(s for s in overview["segments"] if s["segment"] == "champions")
    expect(tab.locator("[data-segments-kpi=champions]")).to_have_text(
        format_count(champions["customers"])
    )

    # Movement: the 90 days up to the day shown.
    as_of = date.fromisoformat(overview["as_of"])
    start = (as_of - timedelta(days=90)).isoformat()
    expect(tab.locator(".movement-from input").first).to_have_value(start)
    expect(tab.locator(".movement-heatmap canvas").first).to_be_visible()
    expect_movement(tab, analyst_client.segment_movement(start, overview["as_of"]))

    # Another day: the API's answer for it, everywhere.
    pick_date(tab, "segments-as-of", EARLIER)
    earlier = analyst_client.segments(EARLIER)
    assert earlier["customers"] != overview["customers"]
    expect_segments(tab, earlier)
    expect_heatmap(tab, analyst_client.segment_grid(EARLIER))

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / "segments.png"))

    # Another movement window.
    pick_date(tab, "movement-from", "2025-06-30")
    expect_movement(tab, analyst_client.segment_movement("2025-06-30", overview["as_of"]))
    tab.locator(".movement-heatmap").scroll_into_view_if_needed()
    tab.screenshot(path=str(SCREENSHOTS / "segments-movement.png"))


def test_a_day_before_any_purchase_shows_the_empty_state(page: BrowserPage):
    tab = log_in(page, ANALYST)
    tab.get_by_role("button", name="Segments", exact=True).click()
    expect(tab.locator("[data-segments-kpi=customers]")).not_to_have_text("…")
    pick_date(tab, "segments-as-of", "2001-01-01")
    expect(tab.locator("[data-segments-kpi=customers]")).to_have_text("0")
    expect(tab.get_by_text("nothing to segment yet")).to_be_visible()
    counts = tab.locator(".segments-table .tabulator-cell[tabulator-field='customers']")
    expect(counts).to_have_text(["0"] * 10)
