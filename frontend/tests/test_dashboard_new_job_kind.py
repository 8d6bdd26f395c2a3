"""The recipe for a new kind of background job, end to end: a kind declared only in a test module
(tests/jobs/toy_job.py, "count_customers") is queued with `enqueue`, run by a real worker, and
followed in the browser on a page that declares nothing but its view — a JobStore and a
JobProgress. Nothing in spendlens or spendlens_dashboard knows the kind."""

from __future__ import annotations

import panel as pn
import pytest
from dashboard_support import ANALYST, SCREENSHOTS, logged_in_client, served_page
from tests.jobs import toy_job

from spendlens.db import get_engine
from spendlens.jobs.registry import enqueue
from spendlens.tenancy import set_org
from spendlens_dashboard.components.job_progress import JobProgress
from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.state.jobs import JobStore


@pytest.fixture
def toy_page_url(api_url: str, database_url: str, monkeypatch: pytest.MonkeyPatch):
    """A Panel page that queues a count_customers job for the analyst's organisation when a
    browser opens it and shows it with a JobStore and a JobProgress, nothing else."""
    monkeypatch.setenv("BOKEH_RESOURCES", "server")  # no CDN: the machine may be offline
    queued: list[int] = []

    def toy_page():
        client = logged_in_client(api_url, ANALYST)
        me = client.me()
        org_id = me["organization"]["id"]
        with get_engine().begin() as conn:  # committed: the worker sees it
            set_org(conn, org_id)  # the application role writes only this organisation's rows
            job_id = enqueue(conn, org_id, toy_job.KIND, {"label": "from the dashboard"})
        queued.append(job_id)
        store = JobStore(client)
        store.follow(client.get_job(job_id))
        return pn.Column(
            pn.pane.Markdown("## Counting customers"), JobProgress(store, unit="customers")
        )

    with served_page(toy_page) as url:
        yield url, queued


def test_a_kind_declared_in_a_test_module_is_queued_run_and_followed(
    browser, toy_page_url, api_url: str, job_worker
):
    from playwright.sync_api import expect

    url, queued = toy_page_url
    client = logged_in_client(api_url, ANALYST)
    customers = client.list_customers(limit=1)["total"]
    context = browser.new_context(viewport={"width": 1000, "height": 600})
    try:
        tab = context.new_page()
        tab.goto(url)
        progress = tab.locator(".job-progress")
        expect(progress.locator(f"[data-job-kind={toy_job.KIND}]")).to_be_visible(timeout=30_000)
        expect(progress.locator("[data-job-state=succeeded]")).to_be_visible(timeout=60_000)
        # The page queues a job per session it builds (a reconnect builds another): the one on
        # screen is the last one queued.
        expect(progress).to_contain_text(f"#{queued[-1]}")
        expect(progress).to_contain_text(
            f"{format_count(customers)} of {format_count(customers)} customers (100%)"
        )
        job = client.get_job(queued[-1])
        assert job["kind"] == toy_job.KIND and job["state"] == "succeeded"
        assert job["result"]["customers"] == customers
        assert job["result"]["label"] == "from the dashboard"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / "job-progress-toy-kind.png"))
    finally:
        context.close()
