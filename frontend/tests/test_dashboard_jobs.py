"""Jobs against the real API and a real worker: a JobStore follows a job of any kind until it
finishes, the import and CLV fit stores feed it, the recent jobs store lists and retries, and every
API refusal goes through the one ApiErrors (a 401 logs out); without a browser, then in one: a page
of nothing but a JobStore and a JobProgress follows an RFM recompute to its end."""

from __future__ import annotations

import time
from datetime import date

import httpx
import panel as pn
import pytest
from dashboard_support import (
    ANALYST,
    SCREENSHOTS,
    logged_in_client,
    served_page,
)

from spendlens_dashboard.api import ApiClient, ApiError
from spendlens_dashboard.app import App
from spendlens_dashboard.components.job_progress import JobProgress, progress_html
from spendlens_dashboard.config import DashboardSettings
from spendlens_dashboard.formatting import format_count
from spendlens_dashboard.state import Session
from spendlens_dashboard.state.clv import ClvFitStore
from spendlens_dashboard.state.errors import ApiErrors
from spendlens_dashboard.state.imports import ImportRequest, ImportStore
from spendlens_dashboard.state.jobs import JobStore, RecentJobsStore

BAD_CSV = (
    "customer_external_id,occurred_at,amount,currency,category,kind,external_id\n"
    "c-1,2026-05-01T10:00:00Z,12.50,EUR,Books,purchase,t-1\n"
    "c-1,2026-05-02T10:00:00Z,lots,EUR,Books,purchase,t-2\n"
).encode()
GOOD_CSV = (
    "customer_external_id,occurred_at,amount,currency,category,kind,external_id\n"
    "c-1,2026-05-01T10:00:00Z,12.50,EUR,Books,purchase,t-1\n"
    "c-2,2026-05-02T10:00:00Z,7.25,EUR,Travel,purchase,t-2\n"
).encode()


def follow_to_the_end(store: JobStore, timeout: float = 60.0) -> None:
    """What the browser's periodic callback does: ask until the job finished."""
    deadline = time.monotonic() + timeout
    while not store.finished:
        assert time.monotonic() < deadline, f"job {store.job_id} still {store.state}"
        assert not store.error, store.error
        store.check()
        time.sleep(0.2)


def queue_recompute(client: ApiClient) -> dict:
    answer = httpx.post(
        f"{client.base_url}/api/v1/segments/recompute",
        json={"as_of": "2026-06-30"},
        headers={"Authorization": f"Bearer {client.token}"},
        timeout=30,
    )
    assert answer.status_code == 202, answer.text
    return answer.json()


@pytest.fixture
def fresh_client(api_url: str, fresh_org: tuple[str, str]):
    client = logged_in_client(api_url, *fresh_org)
    yield client
    client.close()


class TestJobStore:
    def test_follows_an_rfm_recompute_to_its_end(self, analyst_client: ApiClient, job_worker):
        store = JobStore(analyst_client)
        view = JobProgress(store, unit="customers")
        assert not view.text.visible  # nothing followed yet
        job = queue_recompute(analyst_client)
        store.follow(job)
        assert (store.job_id, store.kind, store.label) == (
            job["id"],
            "rfm",
            f"RFM recompute #{job['id']}",
        )
        assert store.following and not store.finished
        follow_to_the_end(store)
        final = analyst_client.get_job(job["id"])
        assert final["state"] == store.state == "succeeded"
        assert (store.processed, store.total) == (final["processed"], final["total"])
        assert store.progress == 1.0 and store.result == final["result"]
        assert not store.following and not store.follower.following
        assert view.text.visible and 'data-job-state="succeeded"' in view.text.object
        assert 'data-job-kind="rfm"' in view.text.object and "(100%)" in view.text.object
        assert (view.bar.value, view.bar.bar_color) == (100, "success")

    def test_a_job_of_another_organisation_is_not_followed(
        self, analyst_client: ApiClient, fresh_client: ApiClient
    ):
        job = queue_recompute(analyst_client)
        store = JobStore(fresh_client)
        store.follow(job)
        store.check()
        assert store.api_error is not None and store.api_error.status == 404
        assert store.error.startswith("Could not follow:") and not store.following

    def test_the_view_counts_what_the_job_counts(self, analyst_client: ApiClient):
        store = JobStore(analyst_client)
        store.sending("Uploading…")
        assert "Uploading…" in progress_html(store)
        store.follow({"id": 5, "kind": "import", "state": "queued"})
        store.follower.forget()  # no real job 5 is asked about
        assert "Import #5: queued</span> — waiting for a worker" in progress_html(store, "rows")
        store._answered({"id": 5, "state": "running", "processed": 400, "total": 1000})
        assert "400 of 1,000 rows (40%)" in progress_html(store, "rows")
        assert store.progress == pytest.approx(0.4)


class TestImportStore:
    def test_a_dry_run_reports_and_writes_nothing(self, fresh_client: ApiClient):
        store = ImportStore(fresh_client)
        store.preview(ImportRequest("bad.csv", BAD_CSV))
        assert store.report["summary"]["invalid"] == 1 and not store.busy
        assert store.job.state == "" and fresh_client.list_transactions(limit=1)["total"] == 0

    def test_an_import_is_followed_until_its_result(self, fresh_client: ApiClient, job_worker):
        store = ImportStore(fresh_client)
        store.run(ImportRequest("good.csv", GOOD_CSV))
        assert store.busy and store.job.kind == "import"
        follow_to_the_end(store.job)
        assert store.job.state == "succeeded" and not store.busy
        assert store.job.result["new"] == 2 == fresh_client.list_transactions(limit=1)["total"]

    def test_a_refused_upload_says_why(self, fresh_client: ApiClient):
        store = ImportStore(fresh_client)
        store.run(ImportRequest("x.csv", GOOD_CSV, format="no-such-format"))
        assert store.message.startswith("The server refused the file:")
        assert store.api_error.status == 422 and not store.busy and store.job.state == ""


class TestClvFitStore:
    def test_no_window_sends_nothing(self, fresh_client: ApiClient):
        store = ClvFitStore(fresh_client)
        store.send({"calibration_start": None, "calibration_end": date(2026, 1, 1)})
        assert store.message == "Choose the calibration window's first and last day."
        assert store.job.state == "" and fresh_client.list_clv_fits()["total"] == 0

    def test_a_failed_fit_says_why(self, fresh_client: ApiClient, job_worker):
        store = ClvFitStore(fresh_client)
        store.send(
            {
                "calibration_start": date(2025, 1, 1),
                "calibration_end": date(2025, 12, 31),
                "holdout_end": None,
                "purchases_horizon_days": 90,
                "clv_horizon_days": 365,
                "monthly_discount_rate": 0.0,
            }
        )
        assert store.job.label == f"Fit #{store.fit_id}" and store.job.kind == "clv_fit"
        follow_to_the_end(store.job)
        assert store.job.state == "failed"
        assert store.job.error.startswith("Too few customers to fit")


class TestRecentJobsStore:
    def test_lists_and_refuses_a_retry_of_a_job_that_failed_on_its_input(
        self, fresh_client: ApiClient, job_worker
    ):
        imports = ImportStore(fresh_client)
        imports.run(ImportRequest("bad.csv", BAD_CSV))
        follow_to_the_end(imports.job)
        store = RecentJobsStore(fresh_client)
        store.fetch()
        assert [(j["id"], j["state"]) for j in store.jobs] == [(imports.job.job_id, "failed")]
        assert [j["id"] for j in store.retryable] == [imports.job.job_id]
        store.retry(imports.job.job_id)
        assert store.retry_error.status == 409 and store.retried is None
        assert store.retry_message.startswith(f"Job #{imports.job.job_id} was not run again:")


class TestApiErrors:
    def test_a_401_logs_out_other_errors_notify_once(self, api_url: str, fresh_org):
        session = Session(ApiClient(api_url))
        session.login(*fresh_org)
        told: list[tuple[str, str]] = []
        errors = ApiErrors(session, lambda kind, message: told.append((kind, message)))
        store = JobStore(session.client)
        errors.watch(store, what="Could not follow the job", name="api_error")
        store.failed_to_send(ApiError(503, "Unavailable", "try later"))
        assert told == [("error", "Could not follow the job: try later")] and session.logged_in
        store.failed_to_send(ApiError(401, "Unauthorized", "expired"))
        assert not session.logged_in and "expired" in session.notice
        assert len(told) == 1

    def test_a_revoked_token_on_the_data_page_logs_out(
        self, api_url: str, admin_client: ApiClient, create_user
    ):
        user = create_user("analyst")
        app = App(DashboardSettings(api_url=api_url, dashboard_today=date(2026, 6, 30)))
        app.login_page.email.value, app.login_page.password.value = user.email, user.password
        app.login_page.submit.clicks += 1
        page = app.workspace.page("data")
        admin_client.update_user(user.id, role="viewer")  # revokes the token
        page.importer.store.run(ImportRequest("good.csv", GOOD_CSV))
        assert app.workspace is None and app.shown is app.login_page
        assert "expired" in app.login_page.notice.object
        app.close()


class TestDataPage:
    def test_a_failed_import_is_listed_failed(self, api_url: str, fresh_org, job_worker):
        app = App(DashboardSettings(api_url=api_url, dashboard_today=date(2026, 6, 30)))
        app.login_page.email.value, app.login_page.password.value = fresh_org
        app.login_page.submit.clicks += 1
        page = app.workspace.page("data")
        page.importer.store.run(ImportRequest("bad.csv", BAD_CSV))
        follow_to_the_end(page.importer.store.job)
        assert [j["state"] for j in app.workspace.jobs.jobs] == ["failed"]
        assert page.jobs.table.value["state"].tolist() == ["failed"]
        app.close()


# -- in the browser: any job kind on a page of a JobStore and a JobProgress only -----------------


@pytest.fixture
def job_page_url(api_url: str, monkeypatch: pytest.MonkeyPatch):
    """A page served by Panel that holds nothing but a JobStore and its JobProgress, following
    the job queued when a browser opens it (an RFM recompute: no page of the dashboard has code
    for that kind). Yields the page's URL and the jobs queued, as the browser opened it."""
    monkeypatch.setenv("BOKEH_RESOURCES", "server")  # no CDN: the machine may be offline
    queued: list[dict] = []

    def job_page():
        client = logged_in_client(api_url, ANALYST)
        store = JobStore(client)
        job = queue_recompute(client)
        queued.append(job)
        store.follow(job)
        return pn.Column(
            pn.pane.Markdown("## Following a job"), JobProgress(store, unit="customers")
        )

    with served_page(job_page) as url:
        yield url, queued


def test_a_page_follows_an_rfm_recompute_with_a_job_store_and_its_view(
    browser, job_page_url, analyst_client: ApiClient, job_worker
):
    from playwright.sync_api import expect

    url, queued = job_page_url
    context = browser.new_context(viewport={"width": 1000, "height": 600})
    try:
        tab = context.new_page()
        tab.goto(url)
        progress = tab.locator(".job-progress")
        # The page queues a job per session it builds (a reconnect builds another): the one on
        # screen is the last one queued.
        expect(progress).to_contain_text("RFM recompute #")
        shown = queued[-1]
        expect(progress).to_contain_text(f"RFM recompute #{shown['id']}")
        expect(progress.locator("[data-job-kind=rfm]")).to_be_visible()
        expect(progress.locator("[data-job-state=succeeded]")).to_be_visible(timeout=60_000)
        job = analyst_client.get_job(shown["id"])
        assert job["state"] == "succeeded" and job["total"]
        expect(progress).to_contain_text(
            f"{format_count(job['processed'])} of {format_count(job['total'])} customers (100%)"
        )
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        tab.screenshot(path=str(SCREENSHOTS / "job-progress-rfm.png"))
    finally:
        context.close()
