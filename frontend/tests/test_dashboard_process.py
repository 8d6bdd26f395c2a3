"""The dashboard as production runs it: `spendlens dashboard` in a process of its own, where the
first browser session is the first thing to touch the app's modules.

A page-level setting made at import (`pn.extension(notifications=True, ...)`) once applied only
to whichever session imported the app first; every later visitor got no toasts at all. The other
browser tests could not see it: their server shares the test process, which imports the app at
collection time.

Its log (test-output/dashboard-process.log) is what an operator reads: one start-up banner, and no
warnings from a browser session going about its work. The API's log (the `api_url` process's
test-output/api.log) has one line per request.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator

import httpx

import pytest
from dashboard_support import (
    ANALYST,
    DEMO_PASSWORD,
    ROOT,
    free_port,
    open_table_row,
    spendlens_process,
    wait_for_process,
)

DASHBOARD_LOG = "dashboard-process.log"


def read_log(name: str) -> str:
    return (ROOT / "test-output" / name).read_text(errors="replace")


def lines_with(name: str, text: str, timeout: float = 20.0) -> list[str]:
    """The lines of a process's log that mention `text`, once at least one does (a process
    writes its log a moment after it answered)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [line for line in read_log(name).splitlines() if text in line]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


@pytest.fixture(scope="module")
def dashboard_process(api_url: str) -> Iterator[str]:
    port = free_port()
    args = ["dashboard", "--port", str(port), "--api-url", api_url]
    with spendlens_process(args, DASHBOARD_LOG, dict(os.environ)):
        url = f"http://127.0.0.1:{port}/"
        wait_for_process(url + "liveness", DASHBOARD_LOG)
        yield url


def log_in_and_fail_a_call(browser, url: str):
    """Log in, then ask for more digits than the API accepts: a toast says so."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = context.new_page()
        tab.goto(url)
        tab.get_by_placeholder("you@company.example").fill(ANALYST)
        tab.get_by_placeholder("Password").fill(DEMO_PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        expect(tab.locator("[data-kpi-value=total_spend]")).not_to_have_text("…")
        minimum = tab.locator("input[placeholder='any']").first
        minimum.fill("1000000000000000")
        minimum.press("Enter")
        expect(tab.locator(".notyf__message", has_text="Could not load data")).to_be_visible()
    finally:
        context.close()


def test_every_visitor_gets_notifications_not_only_the_first(browser, dashboard_process: str):
    log_in_and_fail_a_call(browser, dashboard_process)
    log_in_and_fail_a_call(browser, dashboard_process)


def test_the_dashboard_announces_itself_once(dashboard_process: str):
    port = dashboard_process.rstrip("/").rsplit(":", 1)[1]
    banners = lines_with(DASHBOARD_LOG, f":{port}")
    assert len(banners) == 1, banners
    assert banners[0].startswith(f"Dashboard on http://127.0.0.1:{port}"), banners


def test_the_api_logs_each_request_once(api_url: str):
    # A path of its own, so only this request's lines mention it (the log is the whole run's).
    marker = uuid.uuid4().hex
    answer = httpx.get(f"{api_url}/api/v1/no-such-page-{marker}", timeout=30)
    assert answer.status_code == 404
    lines = lines_with("api.log", marker)
    assert len(lines) == 1, lines
    assert '"logger": "spendlens.access"' in lines[0] and '"status": 404' in lines[0], lines


def test_a_browser_session_leaves_no_bokeh_warnings(browser, dashboard_process: str):
    """Pages, forms and charts shown after the page loaded, then clicked: BokehJS used to send
    each such model's whole definition back with the first click on it, and the server warned
    "reference already known" each time."""
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        tab = context.new_page()
        tab.goto(dashboard_process)
        tab.get_by_placeholder("you@company.example").fill(ANALYST)
        tab.get_by_placeholder("Password").fill(DEMO_PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        total = tab.locator("[data-kpi-value=total_spend]")
        expect(total).to_have_text(re.compile(r"^\$\d"))
        unfiltered = total.inner_text()
        # The filter bar leaves the sidebar on Cohorts and comes back on Overview.
        tab.get_by_role("button", name="Cohorts", exact=True).click()
        expect(tab.locator(".cohorts-table .tabulator-row").first).to_be_visible()
        tab.get_by_role("button", name="Overview", exact=True).click()
        minimum = tab.locator("input[placeholder='any']").first
        minimum.fill("100")
        minimum.press("Enter")
        expect(total).not_to_have_text(unfiltered)
        tab.get_by_role("button", name="Reset filters").click()
        expect(total).to_have_text(unfiltered)
        # A customer page, opened from the list, and back.
        tab.get_by_role("button", name="Customers", exact=True).click()
        rows = tab.locator(".customers-table .tabulator-row")
        open_table_row(tab, rows.first, ".customer-detail .customer-profile")
        tab.get_by_role("button", name="← All customers").click()
        expect(rows.first).to_be_visible()
    finally:
        context.close()
    log = read_log(DASHBOARD_LOG)
    assert "reference already known" not in log, log[-3000:]
    assert "Warning" not in log, log[-3000:]
