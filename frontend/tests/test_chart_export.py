"""Each overview chart's PNG and CSV (issue 17 item 3), downloaded as an analyst would: the CSV
holds the API's figures for the filters on screen, the PNG is an image of the chart.

Headless Chromium against the real API, like the other test_dashboard_* modules; one logged-in
tab for the module, opened on a link that carries a filter (min amount 50).
"""

from __future__ import annotations

import csv
import io
import struct

import pytest
from dashboard_support import ANALYST, DEMO_PASSWORD, SCREENSHOTS
from playwright.sync_api import Page, expect

from spendlens_dashboard.api import ApiClient
from spendlens_dashboard.components.chart_export import chart_csv, slug_of
from spendlens_dashboard.probes import wait_for_charts
from spendlens_dashboard.state.stores import breakdown_frame

FILTERS = {"start_date": "2026-06-01", "end_date": "2026-06-30", "min_amount": "50"}


@pytest.fixture(scope="module")
def tab(browser, dashboard_url: str):
    context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(dashboard_url + "?min=50")
    page.get_by_placeholder("you@company.example").fill(ANALYST)
    page.get_by_placeholder("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    # Generous: the first login of a module builds the whole page on a loaded machine.
    expect(page.locator("[data-kpi-value=total_spend]")).not_to_have_text("…", timeout=90_000)
    expect(page.locator("input[placeholder='any']").first).to_have_value("50", timeout=60_000)
    wait_for_charts(page, timeout=60_000)
    yield page
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "chart-export.png"))
    context.close()


def download(tab: Page, title: str, kind: str):
    """Press the chart's PNG or CSV button; the download's (file name, bytes)."""
    buttons = tab.locator(f".chart-export-{slug_of(title)}")
    with tab.expect_download(timeout=60_000) as info:
        buttons.get_by_text(kind, exact=True).click()
    done = info.value
    with open(done.path(), "rb") as file:
        return done.suggested_filename, file.read()


def csv_rows(body: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"))))


@pytest.mark.parametrize(
    ("title", "by", "top", "with_other"),
    [
        ("Spend by category", "category", 25, True),
        ("Category share", "category", 25, True),
        ("Top merchants", "merchant", 10, False),
    ],
)
def test_a_breakdown_chart_csv_holds_the_api_figures(
    tab: Page, analyst_client: ApiClient, title: str, by: str, top: int, with_other: bool
):
    name, body = download(tab, title, "CSV")
    assert name == f"spendlens-{slug_of(title)}-2026-06-01-to-2026-06-30.csv"
    answer = analyst_client.breakdown(FILTERS, by=by, top=top)
    expected = [(i["label"], i["total_spend"], i["transaction_count"]) for i in answer["items"]]
    other = answer["other"]
    if with_other and other["count"] > 0 and float(other["total_spend"]) != 0:
        expected.append((other["label"], other["total_spend"], other["transaction_count"]))
    rows = csv_rows(body)
    assert [(r[by], r["total_spend"], int(r["purchases"])) for r in rows] == expected
    assert expected, "the filter should leave something to export"


def test_the_spend_over_time_csv_holds_the_api_series(tab: Page, analyst_client: ApiClient):
    _name, body = download(tab, "Spend over time", "CSV")
    series = analyst_client.timeseries(FILTERS, interval="day")
    rows = csv_rows(body)
    assert [(r["period_start"][:10], r["total_spend"]) for r in rows] == [
        (p["period_start"][:10], p["total_spend"]) for p in series["points"]
    ]
    assert {r["partial"] for r in rows} <= {"true", "false"}


def test_a_chart_png_is_an_image_of_the_chart(tab: Page):
    name, body = download(tab, "Top merchants", "PNG")
    assert name == "spendlens-top-merchants.png"
    assert body[:8] == b"\x89PNG\r\n\x1a\n", body[:16]
    # The IHDR chunk (first after the signature) gives the image's size.
    assert body[12:16] == b"IHDR"
    width, height = struct.unpack(">II", body[16:24])
    assert width >= 300 and height >= 150, (width, height)


def test_chart_csv_of_nothing_drawn_is_only_its_header():
    columns = {"label": "category", "total_spend": "total_spend"}
    assert chart_csv(None, columns) == "category,total_spend\n"
    answer = {
        "items": [
            {"label": "Travel", "total_spend": "1234567.89", "transaction_count": 3, "share": 0.5}
        ],
        "other": {"label": "Other", "total_spend": "0.00", "transaction_count": 0, "count": 0},
    }
    frame = breakdown_frame(answer)
    assert chart_csv(frame, columns) == "category,total_spend\nTravel,1234567.89\n"
