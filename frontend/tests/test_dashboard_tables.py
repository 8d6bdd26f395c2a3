"""Tables that fit at 1440 × 900: the columns that matter (amounts, dates, names) are never
hidden or cut, money is right-aligned, long text ends in an ellipsis with the whole text in a
tooltip, and a table is as tall as its rows (no scrolling inside it, no empty band below).
Headless Chromium against the real API; one logged-in tab for the module."""

from __future__ import annotations

import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, SCREENSHOTS
from playwright.sync_api import Page, expect

from spendlens_dashboard.probes import wait_for_charts

# For a table (CSS selector of its Panel pane): whether its rows scroll sideways or inside it,
# the empty band below its last row, and per field whether a cell is outside the visible part
# or cut (text wider than its cell), its alignment and whether it can show a tooltip.
FIT_JS = """
(host) => {
  const root = host.shadowRoot && host.shadowRoot.querySelector('.tabulator-tableholder')
    ? host.shadowRoot : host;
  const holder = root.querySelector('.tabulator-tableholder');
  const rows = Array.from(root.querySelectorAll('.tabulator-row'));
  if (!holder || !rows.length) { return null; }
  const box = holder.getBoundingClientRect();
  const last = rows[rows.length - 1].getBoundingClientRect();
  const fields = {};
  for (const cell of root.querySelectorAll('.tabulator-row .tabulator-cell')) {
    const field = cell.getAttribute('tabulator-field');
    const r = cell.getBoundingClientRect();
    const f = fields[field] || (fields[field] = {hidden: 0, cut: 0, align: '', cells: 0});
    f.cells += 1;
    if (r.right > box.right + 1 || r.left < box.left - 1) { f.hidden += 1; }
    if (cell.scrollWidth > cell.clientWidth + 1) { f.cut += 1; }
    f.align = getComputedStyle(cell).textAlign;
  }
  return {
    sideways: holder.scrollWidth > holder.clientWidth + 1,
    inside: holder.scrollHeight > holder.clientHeight + 1,
    below: box.bottom - last.bottom,
    rowHeight: last.height,
    fields,
  };
}
"""


CUT_JS = "cells => cells.map(c => c.scrollWidth > c.clientWidth + 1)"


def kpi(tab: Page, key: str):
    return tab.locator(f"[data-kpi-value={key}]")


@pytest.fixture(scope="module")
def tab(browser, dashboard_url: str):
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
    context.close()


def fit(tab: Page, selector: str, name: str) -> dict:
    tab.locator(selector).locator(".tabulator-row").first.wait_for()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"table-{name}.png"), full_page=True)
    shown = tab.locator(selector).first.evaluate(FIT_JS)
    assert shown is not None, f"no rows in {selector}"
    return shown


def expect_fits(shown: dict, whole: tuple[str, ...], money: tuple[str, ...] = ()) -> None:
    fields = shown["fields"]
    assert not shown["sideways"], "the table scrolls sideways at 1440 × 900"
    for field in whole:
        assert fields[field]["hidden"] == 0, f"{field} is off the visible part"
        assert fields[field]["cut"] == 0, f"{field} is cut"
    for field in money:
        assert fields[field]["align"] == "right", f"{field} is not right-aligned"
    assert not shown["inside"], "the rows scroll inside the table"
    assert shown["below"] < shown["rowHeight"], f"{shown['below']}px of empty table below"


def test_transactions_table(tab: Page):
    tab.get_by_role("button", name="Transactions", exact=True).click()
    shown = fit(tab, ".transactions-table", "transactions")
    expect_fits(
        shown,
        ("occurred_at", "customer_name", "merchant", "quantity", "kind", "amount", "currency"),
        money=("amount",),
    )
    # Long descriptions end in an ellipsis; the cell's tooltip (its title) has them whole.
    cells = tab.locator(".transactions-table .tabulator-cell[tabulator-field=description]")
    cut = [i for i, cut in enumerate(cells.evaluate_all(CUT_JS)) if cut]
    assert cut, "no description is long enough to be cut"
    cell = cells.nth(cut[0])
    assert cell.evaluate("c => getComputedStyle(c).textOverflow") == "ellipsis"
    cell.hover()
    expect(cell).to_have_attribute("title", cell.inner_text())


def test_customers_list_and_a_customer(tab: Page):
    tab.get_by_role("button", name="Customers", exact=True).click()
    shown = fit(tab, ".customers-table", "customers")
    expect_fits(shown, ("name", "total_spend", "clv"), money=("total_spend", "clv"))
    tab.locator(".customers-table .tabulator-row").first.locator(
        ".tabulator-cell[tabulator-field='name']"
    ).click()
    shown = fit(tab, ".customer-recent", "customer-recent")
    expect_fits(shown, ("occurred_at", "amount"), money=("amount",))


def test_segments_table(tab: Page):
    tab.get_by_role("button", name="Segments", exact=True).click()
    shown = fit(tab, ".segments-table", "segments")
    averages = tuple(f for f in shown["fields"] if f.startswith("avg") or "average" in f)
    assert averages, shown["fields"].keys()
    expect_fits(shown, ("label", *averages))


def test_cohorts_table(tab: Page):
    tab.get_by_role("button", name="Cohorts", exact=True).click()
    shown = fit(tab, ".cohorts-table", "cohorts")
    periods = sorted((f for f in shown["fields"] if f.startswith("p")), key=lambda f: int(f[1:]))
    expect_fits(shown, ("cohort", "size", periods[-1]))
