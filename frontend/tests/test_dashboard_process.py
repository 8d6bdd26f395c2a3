"""The dashboard as production runs it: `spendlens dashboard` in a process of its own, where the
first browser session is the first thing to touch the app's modules.

A page-level setting made at import (`pn.extension(notifications=True, ...)`) once applied only
to whichever session imported the app first; every later visitor got no toasts at all. The other
browser tests could not see it: their server shares the test process, which imports the app at
collection time."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from dashboard_support import (
    ANALYST,
    DEMO_PASSWORD,
    free_port,
    spendlens_process,
    wait_for_process,
)


@pytest.fixture(scope="module")
def dashboard_process(api_url: str) -> Iterator[str]:
    port = free_port()
    args = ["dashboard", "--port", str(port), "--api-url", api_url]
    with spendlens_process(args, "dashboard-process.log", dict(os.environ)):
        url = f"http://127.0.0.1:{port}/"
        wait_for_process(url + "liveness", "dashboard-process.log")
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
