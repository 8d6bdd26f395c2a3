"""The Data page in headless Chromium against the real API and a real job worker: a dry run shows
the preview and the server's validation report, a real import shows its progress until done and
then its result, and a viewer sees no upload controls.

Imports go into a fresh organisation (POST /auth/signup), so the Acme figures the other browser
tests check stay as seeded.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from dashboard_support import (
    ROOT,
    VIEWER,
    BrowserPage,
    log_in,
    logged_in_client,
    page_screenshot,
)
from playwright.sync_api import Page, expect

from spendlens_dashboard.formatting import format_count

SAMPLE = ROOT / "db" / "samples" / "online_retail_sample.csv"


def open_data(tab: Page) -> None:
    tab.get_by_role("button", name="Data", exact=True).click()
    expect(tab.locator(".data-exports a.export-transactions")).to_be_visible()


def figure(tab: Page, where: str, key: str):
    return tab.locator(f"{where} [data-import-figure={key}]")


def test_dry_run_then_import_the_online_retail_sample(
    page: BrowserPage, api_url: str, fresh_org: tuple[str, str], job_worker
):
    email, password = fresh_org
    client = logged_in_client(api_url, email, password)
    content = SAMPLE.read_bytes()
    expected = client.upload_import(SAMPLE.name, content, format="online-retail", dry_run=True)

    tab = log_in(page, email, password)
    open_data(tab)
    tab.locator(".import-file input[type=file]").set_input_files(str(SAMPLE))
    tab.locator("select:has(option:text-is('Online Retail (UCI)'))").select_option(
        label="Online Retail (UCI)"
    )
    tab.get_by_role("button", name="Preview (dry run)").click()

    # The preview and the report are the server's.
    summary = expected["summary"]
    for key in ("rows", "valid", "invalid", "skipped", "new"):
        expect(figure(tab, ".import-report-summary", key)).to_have_text(format_count(summary[key]))
    expect(tab.locator(".import-preview .tabulator-row")).to_have_count(len(expected["preview"]))
    problems = expected["errors"] + expected["skipped_rows"]
    assert problems, "the sample has lines the format skips"
    report = tab.locator(".import-report")
    expect(tab.get_by_text("Validation report")).to_contain_text(
        f"{format_count(len(expected['errors']))} problem(s), "
        f"{format_count(len(expected['skipped_rows']))} skipped row(s)"
    )
    expect(report.locator(".tabulator-row").first).to_be_visible()
    first = problems[0]
    expect(report.locator(".tabulator-row").first.locator("[tabulator-field=reason]")).to_have_text(
        first["reason"]
    )
    for column in ("row", "column", "value", "reason"):
        expect(report.locator(f".tabulator-col[tabulator-field={column}]")).to_be_visible()
    assert client.list_transactions(limit=1)["total"] == 0  # a dry run writes nothing
    tab.screenshot(path=str(page_screenshot("data-dry-run")))

    # The real import: progress until done, then the result.
    tab.locator("select:has(option:text-is('Skip bad rows'))").select_option(label="Skip bad rows")
    tab.get_by_role("button", name="Run import").click()
    expect(tab.locator("[data-job-state=succeeded]")).to_be_visible(timeout=60_000)
    expect(tab.locator(".import-result")).to_contain_text("Import finished.")
    imported = client.list_transactions(limit=1)["total"]
    assert imported == summary["new"] > 0
    expect(figure(tab, ".import-result", "new")).to_have_text(format_count(summary["new"]))
    expect(figure(tab, ".import-result", "already_present")).to_have_text("0")
    expect(figure(tab, ".import-result", "skipped")).to_have_text(format_count(summary["skipped"]))
    expect(tab.locator(".import-progress")).to_contain_text("100%")
    tab.screenshot(path=str(page_screenshot("data-import-done")))

    # The recent jobs list shows the import as the API does (the RFM recompute the import
    # queued is listed beside it).
    latest = client.list_jobs(kind="import", limit=1)["items"][0]
    assert latest["state"] == "succeeded"
    first_job = tab.locator(".jobs-table .tabulator-row").filter(
        has=tab.locator("[tabulator-field=id]", has_text=re.compile(f"^{latest['id']}$"))
    )
    expect(first_job.locator("[tabulator-field=id]")).to_have_text(str(latest["id"]))
    expect(first_job.locator("[tabulator-field=state]")).to_have_text("succeeded")
    expect(first_job.locator("[tabulator-field=file]")).to_have_text(SAMPLE.name)
    expect(first_job.locator("[tabulator-field=progress]")).to_have_text("100%")

    # The exports hold what was imported.
    with tab.expect_download() as download:
        tab.locator("a.export-customers").click()
    rows = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert rows[0][0] == "external_id"
    assert len(rows) - 1 == client.list_customers(limit=1)["total"] == summary["customers_created"]
    with tab.expect_download() as download:
        tab.locator("a.export-merchants").click()
    merchants = list(csv.reader(io.StringIO(Path(download.value.path()).read_text("utf-8"))))
    assert merchants == [["name", "default_category"]]  # Online Retail lines name no merchant
    with tab.expect_download() as download:
        tab.locator("a.export-organization").click()
    organization = json.loads(Path(download.value.path()).read_text("utf-8"))
    assert len(organization["transactions"]) == summary["new"]
    client.close()


CUSTOM_CSV = (
    "Client;Day;Total;Type;Ref\n"
    "C-1;03.05.2026;12,50;Books;r1\n"
    "C-2;04.05.2026;7,25;Travel;r2\n"
    "C-1;05.05.2026;not money;Books;r3\n"
).encode()
CUSTOM_MAPPING = {
    "customer": "Client",
    "date": "Day",
    "amount": "Total",
    "category": "Type",
    "external_id": "Ref",
    "delimiter": ";",
    "date_format": "%d.%m.%Y",
    "decimal_separator": ",",
}


def test_custom_csv_columns_are_mapped_in_the_page(
    page: BrowserPage, api_url: str, fresh_org: tuple[str, str]
):
    email, password = fresh_org
    client = logged_in_client(api_url, email, password)
    expected = client.upload_import(
        "custom.csv", CUSTOM_CSV, format="custom", mapping=json.dumps(CUSTOM_MAPPING), dry_run=True
    )
    client.close()
    assert expected["summary"]["valid"] == 2 and expected["summary"]["invalid"] == 1

    tab = log_in(page, email, password)
    open_data(tab)
    tab.locator("select:has(option:text-is('Online Retail (UCI)'))").select_option(
        label="Custom CSV (map the columns)"
    )
    tab.locator(".import-file input[type=file]").set_input_files(
        files=[{"name": "custom.csv", "mimeType": "text/csv", "buffer": CUSTOM_CSV}]
    )
    for field, column in (("customer", "Client"), ("date", "Day"), ("amount", "Total")):
        picker = tab.locator(f".map-{field} select")
        expect(picker.locator(f"option:text-is('{column}')")).to_have_count(1)
        picker.select_option(label=column)
    tab.locator(".map-category select").select_option(label="Type")
    tab.locator(".map-external_id select").select_option(label="Ref")
    tab.get_by_placeholder('{"date_format": "%d.%m.%Y", "decimal_separator": ","}').fill(
        '{"date_format": "%d.%m.%Y", "decimal_separator": ","}'
    )
    tab.get_by_role("button", name="Preview (dry run)").click()
    for key in ("rows", "valid", "invalid"):
        expect(figure(tab, ".import-report-summary", key)).to_have_text(
            format_count(expected["summary"][key])
        )
    problem = expected["errors"][0]
    row = tab.locator(".import-report .tabulator-row").first
    expect(row.locator("[tabulator-field=reason]")).to_have_text(problem["reason"])
    expect(row.locator("[tabulator-field=column]")).to_have_text(problem["column"] or "")
    expect(tab.locator(".import-verdict")).to_contain_text("would be refused")


BAD_NATIVE_CSV = (
    "customer_external_id,occurred_at,amount,currency,category,kind,external_id\n"
    "c-1,2026-05-01T10:00:00Z,12.50,EUR,Books,purchase,t-1\n"
    "c-1,2026-05-02T10:00:00Z,lots,EUR,Books,purchase,t-2\n"
).encode()


def test_a_failed_import_is_listed_and_its_retry_says_why_it_is_refused(
    page: BrowserPage, api_url: str, fresh_org: tuple[str, str], job_worker
):
    email, password = fresh_org
    tab = log_in(page, email, password)
    open_data(tab)
    expect(tab.locator(".jobs-panel")).to_contain_text("Recent jobs")
    expect(tab.locator(".jobs-table .tabulator-row")).to_have_count(0)  # a new organisation

    tab.locator(".import-file input[type=file]").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_NATIVE_CSV}]
    )
    tab.get_by_role("button", name="Run import").click()
    expect(tab.locator("[data-job-state=failed]")).to_be_visible(timeout=60_000)
    row = tab.locator(".jobs-table .tabulator-row").first
    expect(row.locator("[tabulator-field=state]")).to_have_text("failed")
    expect(row.locator("[tabulator-field=error_count]")).to_have_text("1")

    # A job that failed on its file would fail the same way again: the server refuses (409)
    # and the page says why.
    client = logged_in_client(api_url, email, password)
    job = client.list_jobs(limit=1)["items"][0]
    client.close()
    choice = tab.locator(".jobs-retry-choice select")
    expect(choice.locator("option")).to_have_count(1)
    choice.select_option(label=f"#{job['id']} import (failed)")
    tab.locator(".jobs-retry button").click()
    expect(tab.locator(".jobs-panel .alert")).to_contain_text(
        f"Job #{job['id']} was not run again: This job failed on its input"
    )


def test_the_encoding_picker_reads_a_windows_1252_file(
    page: BrowserPage, api_url: str, fresh_org: tuple[str, str]
):
    email, password = fresh_org
    content = (
        "customer_external_id,occurred_at,amount,currency,category,kind,external_id\n"
        "c-1,2026-05-01T10:00:00Z,12.50,EUR,Caf\u00e9,purchase,t-1\n"
    ).encode("cp1252")
    tab = log_in(page, email, password)
    open_data(tab)
    tab.locator(".import-file input[type=file]").set_input_files(
        files=[{"name": "excel.csv", "mimeType": "text/csv", "buffer": content}]
    )
    tab.get_by_role("button", name="Preview (dry run)").click()
    expect(tab.locator(".import-panel .alert-danger")).to_contain_text("cp1252")  # UTF-8 refused

    tab.locator("select:has(option:text-is('UTF-8'))").select_option(
        label="Windows-1252 (Excel, Western Europe)"
    )
    tab.get_by_role("button", name="Preview (dry run)").click()
    expect(figure(tab, ".import-report-summary", "valid")).to_have_text("1")
    expect(tab.locator(".import-preview [tabulator-field=category]").last).to_have_text("Caf\u00e9")


def test_mapping_helpers():
    from spendlens_dashboard.components.import_form import (
        build_mapping,
        guess_column,
        header_columns,
    )

    assert header_columns(b"Client;Day;Total\r\n1;2;3\n") == (["Client", "Day", "Total"], ";")
    assert header_columns(None) == ([], ",")
    assert guess_column("external_id", ["Ref", "External ID"]) == "External ID"
    assert guess_column("customer", ["Client"]) is None
    mapping = build_mapping({"customer": "Client", "date": None}, '{"date_format": "%d"}', ";")
    assert mapping == {"customer": "Client", "delimiter": ";", "date_format": "%d"}
    with pytest.raises(ValueError):
        build_mapping({"customer": None}, "", ",")
    with pytest.raises(ValueError):
        build_mapping({"customer": "Client"}, "{not json", ",")


def test_viewer_sees_no_upload_controls(page: BrowserPage):
    tab = log_in(page, VIEWER)
    open_data(tab)
    expect(tab.get_by_text("Importing data is for analysts and admins")).to_be_visible()
    expect(tab.locator(".import-panel")).to_have_count(0)
    expect(tab.locator("input[type=file]")).to_have_count(0)
    expect(tab.get_by_role("button", name="Run import")).to_have_count(0)
    expect(tab.locator("a.export-transactions")).to_have_attribute("href", _export_link())
    expect(tab.locator(".export-customers")).to_be_visible()
    expect(tab.locator(".export-organization")).to_have_count(0)  # analysts and admins only


def _export_link():

    return re.compile(r"^export/[A-Za-z0-9_-]{20,}/transactions\.csv$")


# -- pure helpers (no browser) -------------------------------------------------------------------


def test_jobs_frame():
    from spendlens_dashboard.components.jobs_panel import jobs_frame

    frame = jobs_frame(
        [
            {
                "id": 7,
                "kind": "import",
                "state": "running",
                "params": {"filename": "retail.csv"},
                "progress": 0.425,
                "error_count": 0,
                "created_at": "2026-06-30T10:00:01.123Z",
                "finished_at": None,
            }
        ]
    )
    assert frame.to_dict("records") == [
        {
            "id": 7,
            "kind": "import",
            "state": "running",
            "file": "retail.csv",
            "progress": "42%",
            "error_count": 0,
            "created_at": "2026-06-30 10:00:01",
            "finished_at": "",
        }
    ]
    assert jobs_frame(None).empty


def test_report_and_preview_frames():
    from spendlens_dashboard.components.import_report import (
        preview_frame,
        report_frame,
        summary_html,
    )

    report = report_frame([{"row": 3, "column": "amount", "value": "x", "reason": "not a number"}])
    assert report.to_dict("records") == [
        {"row": "3", "column": "amount", "value": "x", "reason": "not a number"}
    ]
    assert list(report_frame(None).columns) == ["row", "column", "value", "reason"]
    preview = preview_frame(
        [{"row": 1, "values": {"amount": "1.00"}, "problem": None, "skipped": {"reason": "zero"}}]
    )
    assert preview.to_dict("records") == [{"row": 1, "amount": "1.00", "problem": "zero"}]
    html = summary_html({"rows": 1200, "new": 3}, would_succeed=False)
    assert 'data-import-figure="rows">1,200<' in html and "would be refused" in html


def test_the_recent_jobs_turn_a_queued_job_into_its_end_without_a_click(
    page: BrowserPage, api_url: str, fresh_org: tuple[str, str]
):
    """A job queued when the page opened is shown finished once it is, with no Refresh: the
    list is fetched again while one of its jobs is queued or running."""
    from sqlalchemy import text
    from tests.jobs import toy_job

    from spendlens.db import get_engine
    from spendlens.jobs.registry import record_job
    from spendlens.tenancy import set_org

    email, password = fresh_org
    client = logged_in_client(api_url, email, password)
    org_id = client.me()["organization"]["id"]
    client.close()
    with get_engine().begin() as conn:  # recorded, not queued: no worker takes it
        set_org(conn, org_id)
        job_id = record_job(conn, org_id, toy_job.KIND, {"label": "waiting"})
    tab = log_in(page, email, password)
    open_data(tab)
    state = tab.locator(".jobs-table .tabulator-row").first.locator("[tabulator-field=state]")
    expect(state).to_have_text("queued")
    with get_engine().begin() as conn:  # what a worker does when it is done
        set_org(conn, org_id)
        conn.execute(
            text("UPDATE jobs SET state = 'succeeded', finished_at = now() WHERE id = :id"),
            {"id": job_id},
        )
    expect(state).to_have_text("succeeded")
