"""Fixtures of the dashboard tests: a real PostgreSQL seeded with the demo data, the real API on a
free port, the dashboard on another, and headless Chromium (Debian's package) through Playwright.

Everything is started once per run; tests that write (users, transactions) make their own rows.
"""

from __future__ import annotations

import os
import re
import subprocess
import uuid
from urllib.parse import urlparse
from collections.abc import Callable, Iterator

import httpx
import panel as pn
import pytest

# Settings are read from the environment: pin them before any spendlens module caches them.
os.environ.setdefault("SPENDLENS_ENV", "test")
os.environ.setdefault("SPENDLENS_SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ["SPENDLENS_DASHBOARD_TODAY"] = "2026-06-30"

from spendlens.testing import (  # noqa: E402
    DEMO_AS_OF,
    DatabaseFactory,
    migrated_and_seeded,
    test_server_url,
)
from dashboard_support import (  # noqa: E402
    ADMIN,
    ANALYST,
    CHROMIUM,
    CHROMIUM_ARGS,
    SCREENSHOTS,
    BrowserPage,
    ROOT,
    NewUser,
    free_port,
    spendlens_process,
    wait_for_process,
    logged_in_client,
    wait_until_up,
)
from spendlens_dashboard.api import ApiClient  # noqa: E402
from spendlens_dashboard.config import get_settings  # noqa: E402

get_settings.cache_clear()


@pytest.fixture(autouse=True)
def reset_panel_state() -> Iterator[None]:
    """Nothing a test leaves in Panel's global state (cache, current document) reaches the next.
    (pn.state.reset() would also kill the dashboard server the browser tests share.)"""
    yield
    pn.state.cache.clear()
    pn.state.curdoc = None


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A database of its own, migrated and seeded with the demo data as of DEMO_AS_OF."""
    factory = DatabaseFactory(test_server_url())
    url = migrated_and_seeded(factory.create(), as_of=DEMO_AS_OF)
    from spendlens.cli import _use_database

    _use_database(url)
    yield url
    from spendlens.db import get_engine

    get_engine().dispose()
    factory.drop_all()


@pytest.fixture(scope="session")
def api_url(database_url: str) -> Iterator[str]:
    """The real API (`spendlens serve`, uvicorn) on a free port, in a process of its own.

    Not a thread of the test process: there it shared one interpreter lock with the dashboard
    server, Playwright and the coverage tracer, and late in a full run its answers took long
    enough (18 s for a list of merchants) for browser tests to time out. Its log is
    test-output/api.log."""
    port = free_port()
    # One API serves the whole run from one address, and every browser test uses the same demo
    # accounts: the dashboard's bursts (a page is a dozen calls) would meet the per-token and
    # per-address limits, which are for production traffic; the backend's tests cover them.
    env = dict(
        os.environ,
        SPENDLENS_DATABASE_URL=database_url,
        SPENDLENS_RATE_LIMIT_LOGIN="1000/minute",
        SPENDLENS_RATE_LIMIT_SIGNUP="1000/minute",
        SPENDLENS_RATE_LIMIT_PER_TOKEN="100000/minute",
        SPENDLENS_RATE_LIMIT_PER_ADDRESS="100000/minute",
    )
    with spendlens_process(["serve", "--port", str(port)], "api.log", env):
        url = f"http://127.0.0.1:{port}"
        wait_for_process(url + "/livez", "api.log")
        yield url


@pytest.fixture(scope="session")
def dashboard_url(api_url: str) -> Iterator[str]:
    """The dashboard server (our `start_in_thread`) talking to the test API."""
    from spendlens_dashboard.server import start_in_thread

    port = free_port()
    server = start_in_thread("127.0.0.1", port, api_url)
    url = f"http://127.0.0.1:{port}/"
    wait_until_up(url + "liveness")
    yield url
    server.stop()


@pytest.fixture(scope="session")
def job_worker(database_url: str) -> Iterator[subprocess.Popen]:
    """A `spendlens worker` on the test database, so queued jobs (imports, recomputes, model
    fits) actually run; one for the whole run, started by the first test that needs it."""
    # It also runs the job kind the test suite declares for itself (tests/jobs/toy_job.py).
    path = os.pathsep.join(filter(None, [str(ROOT / "backend"), os.environ.get("PYTHONPATH")]))
    env = dict(
        os.environ,
        SPENDLENS_DATABASE_URL=database_url,
        SPENDLENS_LOG_LEVEL="INFO",
        PYTHONPATH=path,
    )
    args = ["worker", "--import", "tests.jobs.toy_job"]
    with spendlens_process(args, "dashboard-worker.log", env) as process:
        yield process


@pytest.fixture
def fresh_org(api_url: str) -> tuple[str, str]:
    """The admin of a new organisation without any data (email, password), signed up through
    the API, so what a test writes never touches the Acme figures other tests check."""
    email = f"fresh-{uuid.uuid4().hex[:10]}@fresh.example"
    password = "fresh-password-" + uuid.uuid4().hex[:8]
    answer = httpx.post(
        f"{api_url}/api/v1/auth/signup",
        json={
            "email": email,
            "password": password,
            "full_name": "Fresh Tester",
            "organization_name": f"Fresh Test {uuid.uuid4().hex[:6]}",
        },
        timeout=30,
    )
    assert answer.status_code == 202, answer.text  # the admin then logs in
    return email, password


@pytest.fixture
def api_client(api_url: str) -> Iterator[ApiClient]:
    with ApiClient(api_url) as client:
        yield client


@pytest.fixture(scope="session")
def admin_client(api_url: str) -> Iterator[ApiClient]:
    client = logged_in_client(api_url, ADMIN)
    yield client
    client.close()


@pytest.fixture(scope="session")
def analyst_client(api_url: str) -> Iterator[ApiClient]:
    client = logged_in_client(api_url, ANALYST)
    yield client
    client.close()


@pytest.fixture
def create_user(admin_client: ApiClient) -> Callable[..., NewUser]:
    """Builder: a fresh user of Acme (so lock-outs and revocations never touch demo accounts)."""

    def build(role: str = "analyst", full_name: str = "Test User") -> NewUser:
        email = f"dash-{uuid.uuid4().hex[:10]}@acme.example"
        password = "test-password-" + uuid.uuid4().hex[:8]
        user = admin_client.create_user(email, password, full_name=full_name, role=role)
        return NewUser(user["id"], email, password, role)

    return build


# -- browser ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import expect, sync_playwright

    # `expect` waits 5 s by default, whatever the context's timeout: too short on a loaded
    # two-core CI machine, where a round trip browser → dashboard → API can take longer.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, dashboard_url: str, api_url: str, request) -> Iterator[BrowserPage]:
    """A fresh browser context (own cookies, own session) that records every request URL and
    leaves a screenshot named after the test in test-output/screenshots/.

    Afterwards it checks that no request went anywhere but the dashboard and the API: the page
    must work without internet access."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    requests: list[str] = []
    tab.on("request", lambda r: requests.append(r.url))
    yield BrowserPage(tab, requests, dashboard_url)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    try:
        tab.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    finally:
        context.close()
    allowed = {urlparse(dashboard_url).netloc, urlparse(api_url).netloc}
    foreign = [u for u in requests if u.startswith("http") and urlparse(u).netloc not in allowed]
    assert not foreign, f"requests to other hosts: {foreign[:5]}"
