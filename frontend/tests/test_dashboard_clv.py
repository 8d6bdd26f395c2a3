"""The Lifetime value page and the RFM and CLV cards of a customer's page, in headless Chromium
against the real API and a real job worker: an analyst fits a model from the page and sees what
GET /clv/fits/{id} (and its estimates) answer; a viewer sees no form; an organisation without
data shows the empty state and a failed fit's reason; a customer's page shows the API's segment,
scores, P(alive) and CLV after a recompute and a fit.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
from dashboard_support import (
    ANALYST,
    DEMO_PASSWORD,
    SCREENSHOTS,
    VIEWER,
    BrowserPage,
    log_in,
    open_table_row,
    wait_for_job,
)
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.formatting import format_count, format_money
from spendlens_dashboard.pages.customers import scores_html
from spendlens_dashboard.state.clv import (
    format_fixed,
    format_number,
    format_percent,
    format_yes_no,
)

FIT_TIMEOUT_MS = 60_000
DEMO_WINDOWS = {
    "calibration_start": "2024-07-01",
    "calibration_end": "2025-12-31",
    "holdout_end": "2026-06-30",
}


def open_clv(tab: Page) -> None:
    tab.get_by_role("button", name="Lifetime value", exact=True).click()
    expect(tab.locator(".clv-results, .clv-empty").locator("visible=true").first).to_be_visible()


def screenshot(tab: Page, name: str, height: int = 1000) -> None:
    """The page in a viewport `height` tall (the template scrolls inside, not the document)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = tab.viewport_size
    tab.set_viewport_size({"width": size["width"], "height": height})
    tab.wait_for_timeout(300)  # the charts re-lay out to the new size
    tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    tab.set_viewport_size(size)


def day_of(timestamp: str) -> date:
    return date.fromisoformat(timestamp[:10])


def expect_figures(tab: Page, attribute: str, expected: dict[str, str]) -> None:
    for key, text in expected.items():
        expect(tab.locator(f"[{attribute}={key}]")).to_have_text(text)


def test_an_analyst_fits_a_model_and_sees_the_apis_figures(
    page: BrowserPage, analyst_client: ApiClient, job_worker
):
    tab = log_in(page, ANALYST)
    open_clv(tab)
    form = tab.locator(".clv-fit-form")
    expect(form).to_be_visible()

    # The form holds out the last 90 days up to the latest transaction, calibrates before.
    latest = day_of(
        analyst_client.list_transactions(sort="-date", limit=1)["items"][0]["occurred_at"]
    )
    first = day_of(
        analyst_client.list_transactions(sort="date", limit=1)["items"][0]["occurred_at"]
    )
    expected_windows = {
        "calibration_start": first.isoformat(),
        "calibration_end": (latest - timedelta(days=90)).isoformat(),
        "holdout_end": latest.isoformat(),
    }
    for name, value in expected_windows.items():
        css = f".clv-{name.replace('_', '-')} input"
        expect(tab.locator(css).first).to_have_value(value)

    before = {f["id"] for f in analyst_client.list_clv_fits(limit=100)["items"]}
    tab.get_by_role("button", name="Fit model").click()
    expect(tab.locator(".clv-fit-form [data-job-state=succeeded]")).to_be_visible(
        timeout=FIT_TIMEOUT_MS
    )
    newest = analyst_client.list_clv_fits(limit=1)["items"][0]
    assert newest["id"] not in before
    assert {k: newest[k] for k in expected_windows} == expected_windows
    assert (newest["purchases_horizon_days"], newest["clv_horizon_days"]) == (90, 365)
    expect(tab.locator("[data-clv-fit-id]")).to_have_text(str(newest["id"]))

    fit = analyst_client.get_clv_fit(newest["id"])
    assert fit["state"] == "succeeded"
    bg, gg, evaluation = fit["bgnbd"], fit["gamma_gamma"], fit["evaluation"]
    expect_figures(
        tab,
        "data-clv-param",
        {
            **{f"bgnbd-{k}": format_number(bg[k]) for k in ("r", "alpha", "a", "b")},
            "bgnbd-log_likelihood": format_fixed(bg["log_likelihood"]),
            **{f"gamma_gamma-{k}": format_number(gg[k]) for k in ("p", "q", "v")},
            "gamma_gamma-log_likelihood": format_fixed(gg["log_likelihood"]),
            "customers": format_count(fit["customers"]),
            "repeat_buyers": format_count(fit["repeat_buyers"]),
            "converged": format_yes_no(fit["converged"]),
        },
    )
    alpha = tab.locator(".clv-figure:has([data-clv-param=bgnbd-alpha]) .unit")
    expect(alpha).to_have_text(f"{fit['time_unit']}s")
    expect_figures(
        tab,
        "data-clv-eval",
        {
            "mae": format_fixed(evaluation["mae"], 3),
            "rmse": format_fixed(evaluation["rmse"], 3),
            "correlation": format_fixed(evaluation["correlation"], 3),
            "aggregate_error": format_percent(evaluation["aggregate_error"], signed=True),
            "predicted_total": format_fixed(evaluation["predicted_total"], 1),
            "actual_total": format_fixed(evaluation["actual_total"], 1),
        },
    )
    for chart in ("clv-holdout-chart", "clv-distribution-chart", "clv-p-alive-chart"):
        expect(tab.locator(f".{chart} canvas").first).to_be_visible()
    summary = analyst_client.clv_fit_summary(fit["id"])
    expect(tab.locator(".clv-distribution-note")).to_contain_text(
        f"median {format_money(summary['clv_distribution']['median'], 'USD')}"
    )

    # The top customers table is the API's first page of estimates by CLV.
    top = analyst_client.clv_estimates(fit["id"], sort="-clv", limit=20)["items"]
    rows = tab.locator(".clv-top-customers .tabulator-row")
    expect(rows).to_have_count(len(top))
    ids = tab.locator(".clv-top-customers .tabulator-row [tabulator-field=customer_id]")
    assert [int(t) for t in ids.all_inner_texts()] == [e["customer_id"] for e in top]
    values = tab.locator(".clv-top-customers .tabulator-row [tabulator-field=clv]")
    assert values.all_inner_texts() == [format_money(e["clv"], "USD") for e in top]
    alive = rows.first.locator("[tabulator-field=p_alive]")
    expect(alive).to_have_text(format_percent(top[0]["p_alive"]))
    screenshot(tab, "lifetime-value", height=3000)


def test_a_viewer_sees_the_page_without_the_form(page: BrowserPage, api_url: str):
    tab = log_in(page, VIEWER)
    open_clv(tab)
    expect(tab.locator(".clv-fit-form")).to_have_count(0)
    expect(tab.get_by_role("button", name="Fit model")).to_have_count(0)
    with ApiClient(api_url) as viewer:
        viewer.login(VIEWER, DEMO_PASSWORD)
        fits = viewer.list_clv_fits(limit=100)["items"]
    succeeded = [f for f in fits if f["state"] == "succeeded"]
    if succeeded:
        expect(tab.locator("[data-clv-fit-id]")).to_have_text(str(succeeded[0]["id"]))
    else:
        expect(tab.locator(".clv-empty")).to_contain_text("No model fitted yet.")
        expect(tab.locator(".clv-empty")).to_contain_text("An analyst or admin can fit one")


def test_without_data_the_page_is_empty_and_a_fit_fails_with_its_reason(
    page: BrowserPage, fresh_org: tuple[str, str], job_worker
):
    tab = log_in(page, *fresh_org)
    open_clv(tab)
    expect(tab.locator(".clv-empty")).to_contain_text("No model fitted yet. Fit one with the form")
    expect(tab.locator(".clv-results")).to_be_hidden()
    tab.get_by_role("button", name="Fit model").click()
    expect(tab.locator(".clv-fit-form [data-job-state=failed]")).to_be_visible(
        timeout=FIT_TIMEOUT_MS
    )
    expect(tab.locator(".clv-failed")).to_contain_text("failed: Too few customers to fit: 0 ")
    expect(tab.locator(".clv-fit-form")).to_contain_text("Too few customers to fit")
    expect(tab.locator(".clv-empty")).to_be_visible()


def test_a_customer_page_shows_rfm_and_clv_from_the_api(
    page: BrowserPage, analyst_client: ApiClient, api_url: str, job_worker
):
    # An RFM snapshot and a CLV fit, queued through the API and run by the worker.
    recompute = httpx.post(
        f"{api_url}/api/v1/segments/recompute",
        json={"as_of": DEMO_WINDOWS["holdout_end"]},
        headers={"Authorization": f"Bearer {analyst_client.token}"},
        timeout=30,
    )
    assert recompute.status_code == 202, recompute.text
    fit = analyst_client.create_clv_fit(DEMO_WINDOWS)
    for job_id in (recompute.json()["id"], fit["job_id"]):
        assert wait_for_job(analyst_client, job_id)["state"] == "succeeded"

    top = analyst_client.clv_estimates(fit["id"], sort="-clv", limit=1)["items"][0]
    detail = analyst_client.get_customer(top["customer_id"])
    rfm, clv = detail["rfm"], detail["clv"]
    assert rfm is not None and clv is not None and clv["fit_id"] == fit["id"]

    tab = log_in(page, ANALYST)
    tab.get_by_role("button", name="Customers", exact=True).click()
    search = tab.get_by_placeholder("Name, email or external id — press Enter")
    search.fill(detail["external_id"])
    search.press("Enter")
    row = tab.locator(".customers-table .tabulator-row").first
    expect(row.locator("[tabulator-field=id]")).to_have_text(str(detail["id"]))
    open_table_row(tab, row, ".customer-detail .customer-profile")
    expect_figures(
        tab,
        "data-customer-rfm",
        {
            "segment": rfm["segment_label"],
            "r_score": str(rfm["r_score"]),
            "f_score": str(rfm["f_score"]),
            "m_score": str(rfm["m_score"]),
            "recency_days": format_count(rfm["recency_days"]),
            "frequency": format_count(rfm["frequency"]),
            "monetary": format_money(rfm["monetary"], "USD"),
        },
    )
    expect_figures(
        tab,
        "data-customer-clv",
        {
            "p_alive": format_percent(clv["p_alive"]),
            "expected_purchases": format_fixed(clv["expected_purchases"]),
            "expected_spend": format_money(clv["expected_spend"], "USD"),
            "clv": format_money(clv["clv"], "USD"),
        },
    )
    expect(tab.locator(".customer-rfm-clv")).to_contain_text(f"From CLV fit #{fit['id']}")
    screenshot(tab, "customer-rfm-clv", height=1400)


def test_a_customer_without_rfm_or_clv_says_so():
    text = scores_html({"rfm": None, "clv": None}, "USD")
    assert "data-customer-rfm-missing" in text and "RFM not computed yet" in text
    assert "data-customer-clv-missing" in text and "Lifetime value not computed yet" in text
    assert 'data-customer-clv="' not in text and 'data-customer-rfm="' not in text
