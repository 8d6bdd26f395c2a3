"""Constants and small helpers shared by the dashboard test modules and their conftest."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from spendlens_dashboard.api import ApiClient

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
CHROMIUM = os.environ.get("SPENDLENS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
DEMO_PASSWORD = "spendlens-demo"
ANALYST = "analyst@acme.example"
VIEWER = "viewer@acme.example"
ADMIN = "admin@acme.example"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, timeout: float = 30.0) -> None:
    """Poll a server's health URL while it starts (fixture set-up, not a test wait)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not come up within {timeout} s")
        time.sleep(0.1)


@contextmanager
def spendlens_process(args: list[str], log_name: str, env: dict) -> Iterator[subprocess.Popen]:
    """`python -m spendlens.cli *args` as a process of its own, its output in
    test-output/<log_name>; stopped (SIGTERM, then SIGKILL after 15 s) when the block ends."""
    logs = ROOT / "test-output"
    logs.mkdir(parents=True, exist_ok=True)
    with open(logs / log_name, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "spendlens.cli", *args],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_for_process(url: str, log_name: str, timeout: float = 60.0) -> None:
    """`wait_until_up` for a spendlens_process: when it does not come up, its log says why."""
    try:
        wait_until_up(url, timeout=timeout)
    except RuntimeError:
        log = (ROOT / "test-output" / log_name).read_text(errors="replace")
        raise RuntimeError(f"{url} did not come up; {log_name}:\n{log[-3000:]}") from None


def logged_in_client(api_url: str, email: str, password: str = DEMO_PASSWORD) -> ApiClient:
    client = ApiClient(api_url)
    client.login(email, password)
    return client


@dataclass
class NewUser:
    id: int
    email: str
    password: str
    role: str


@dataclass
class BrowserPage:
    page: object
    requests: list[str]
    url: str


def log_in(bp: BrowserPage, email: str, password: str = DEMO_PASSWORD):
    """Log in through the page and wait for the overview's first figures; returns the tab."""
    from playwright.sync_api import expect

    tab = bp.page
    tab.goto(bp.url)
    tab.get_by_placeholder("you@company.example").fill(email)
    tab.get_by_placeholder("Password").fill(password)
    tab.get_by_role("button", name="Log in").click()
    expect(tab.locator("[data-kpi-value=total_spend]")).not_to_have_text("…")
    return tab


def page_screenshot(name: str) -> Path:
    """Where a named screenshot goes (test-output/screenshots/<name>.png)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


def wait_for_job(client: ApiClient, job_id: int, timeout: float = 60.0) -> dict:
    """Poll GET /jobs/{id} until a worker finished it (fixture-style wait on a background job)."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get_job(job_id)
        if job["state"] in ("succeeded", "failed", "cancelled"):
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {job['state']} after {timeout} s")
        time.sleep(0.2)


def open_table_row(tab, row, opened: str, cell: str = "id") -> None:
    """Click a table row on one of its cells (`cell`, a field name), as a person would, and wait
    for what it opens (`opened`, a CSS selector). Not at the row's geometric centre: on a table
    wider than its panel, a click there was seen to highlight the row in the browser without the
    server hearing of the selection (a column resize handle between two cells, most likely)."""
    from playwright.sync_api import expect

    row.locator(f".tabulator-cell[tabulator-field='{cell}']").click()
    expect(tab.locator(opened).first).to_be_visible()


@contextmanager
def served_page(build: Callable) -> Iterator[str]:
    """A Panel page of its own, built by `build` for each browser session, on a free port;
    yields its URL once the server answers (through its liveness route: opening "/" would
    build a page)."""
    import panel as pn

    port = free_port()
    server = pn.serve(
        {"/": build},
        port=port,
        address="127.0.0.1",
        websocket_origin=[f"127.0.0.1:{port}"],
        show=False,
        start=True,
        threaded=True,
        liveness=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(url + "liveness")
        yield url
    finally:
        server.stop()


def rebuild_journey(client: ApiClient, slug: str = "acme-retail", timeout: float = 180.0) -> dict:
    """Queue a `journey` job deriving every customer's stages of the organisation `slug` from
    its events, as `spendlens seed` does for a new demo organisation (the test database is seeded
    without it), and wait until the worker finished it. Needs the `job_worker` fixture (and the
    `database_url` one, which points this process at the test database)."""
    from sqlalchemy import select

    from spendlens.db import background_transaction
    from spendlens.journey.service import queue_full_rebuild
    from spendlens.models import Organization
    from spendlens.tenancy import set_org

    with background_transaction() as conn:
        org_id = conn.execute(select(Organization.id).where(Organization.slug == slug)).scalar_one()
        set_org(conn, org_id)  # the application role sees and writes only this organisation
        job_id = queue_full_rebuild(conn, org_id, trigger="test")
    job = wait_for_job(client, job_id, timeout=timeout)
    assert job["state"] == "succeeded", job
    return job
