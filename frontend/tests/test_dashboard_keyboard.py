"""Keyboard and screen readers (issue 17 item 7, in part): the filters are reached one after the
other with Tab, past Categories, and the theme switch says what it switches.

Headless Chromium against the real API, like the other test_dashboard_* modules.
"""

from __future__ import annotations

import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD
from playwright.sync_api import Page, expect

# What has the keyboard focus, through the shadow roots Panel renders into: its placeholder,
# its accessible label or its text.
FOCUSED_JS = """
() => {
  let el = document.activeElement;
  while (el && el.shadowRoot && el.shadowRoot.activeElement) { el = el.shadowRoot.activeElement; }
  if (!el || el === document.body) { return ''; }
  return (el.getAttribute('placeholder') || el.getAttribute('aria-label')
          || el.textContent || el.tagName).trim().slice(0, 40);
}
"""


@pytest.fixture(scope="module")
def tab(browser, dashboard_url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(dashboard_url)
    yield page
    context.close()


def test_the_theme_switch_is_labelled(tab: Page):
    expect(tab.get_by_role("switch", name="Dark theme")).to_be_visible()


def test_tab_leaves_categories_for_the_next_filters_in_order(tab: Page):
    tab.get_by_placeholder("you@company.example").fill(ANALYST)
    tab.get_by_placeholder("Password").fill(DEMO_PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.locator("[data-kpi-value=total_spend]")).not_to_have_text("…", timeout=90_000)
    tab.get_by_placeholder("All categories").focus()
    reached = [tab.evaluate(FOCUSED_JS)]
    for _ in range(12):
        tab.keyboard.press("Tab")
        reached.append(tab.evaluate(FOCUSED_JS))
    wanted = ["All categories", "Type to search merchants", "any", "any", "Reset filters"]
    # In this order (the amount boxes' step buttons may come between).
    positions = []
    start = 0
    for name in wanted:
        assert name in reached[start:], (name, reached)
        start = reached.index(name, start) + 1
        positions.append(start)
    assert positions == sorted(positions), reached
