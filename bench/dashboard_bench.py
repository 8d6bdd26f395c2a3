"""Dashboard benchmark in headless Chromium on the seeded demo data.

Times (1) from submitting the login form to every overview chart drawn, and (2) from a filter
change to every chart redrawn with the new data; reports the median of N runs of each.

    .venv/bin/python bench/dashboard_bench.py [--runs 5]
    .venv/bin/python bench/dashboard_bench.py --api-url http://127.0.0.1:8000 \\
        --dashboard-url http://127.0.0.1:5006/

Without URLs it provisions everything like the tests do: a database on TEST_DATABASE_URL's server
(default postgresql://postgres@127.0.0.1:5432/postgres) seeded as of 2026-06-30, the API (uvicorn)
and the dashboard on free ports, all dropped/stopped at the end. With URLs, the dashboard should
run with SPENDLENS_DASHBOARD_TODAY=2026-06-30 against data seeded with --as-of 2026-06-30.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "backend"), str(ROOT / "frontend")]
os.environ.setdefault("SPENDLENS_ENV", "test")
os.environ.setdefault("SPENDLENS_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("SPENDLENS_DASHBOARD_TODAY", "2026-06-30")

import httpx  # noqa: E402

from spendlens_dashboard.probes import chart_fingerprints, wait_for_charts  # noqa: E402

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
# Each run starts on "Last 30 days" and moves to another range, so every chart's data changes.
PRESET_CYCLE = ["Last 90 days", "Year to date", "Last 12 months"]
CATEGORY_CYCLE = ["Travel", "Groceries", "Electronics", "Restaurants", "Apparel"]


def wait_until_up(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def provision(stack: ExitStack) -> tuple[str, str]:
    """Seeded database, API and dashboard of our own; returns (api_url, dashboard_url)."""
    import uvicorn
    from spendlens.cli import _use_database
    from spendlens.testing import DatabaseFactory, free_port, migrated_and_seeded, test_server_url

    from spendlens_dashboard.server import start_in_thread

    factory = DatabaseFactory(test_server_url())
    stack.callback(factory.drop_all)
    print("Seeding the demo data (as of 2026-06-30) ...", flush=True)
    url = migrated_and_seeded(factory.create())
    _use_database(url)

    api_port = free_port()
    api = uvicorn.Server(
        uvicorn.Config(
            "spendlens.main:create_app",
            factory=True,
            host="127.0.0.1",
            port=api_port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=api.run, daemon=True)
    thread.start()
    stack.callback(thread.join, 10)
    stack.callback(setattr, api, "should_exit", True)
    api_url = f"http://127.0.0.1:{api_port}"
    wait_until_up(api_url + "/livez")

    dash_port = free_port()
    dashboard = start_in_thread("127.0.0.1", dash_port, api_url)
    stack.callback(dashboard.stop)
    dashboard_url = f"http://127.0.0.1:{dash_port}/"
    wait_until_up(dashboard_url + "liveness")
    return api_url, dashboard_url


def kpi_total(page) -> str:
    return page.locator("[data-kpi-value=total_spend]").inner_text()


def log_in(page, url: str, email: str, password: str) -> float:
    """Seconds from submitting the login form to every overview chart drawn (KPIs filled)."""
    page.goto(url)
    page.get_by_placeholder("you@company.example").fill(email)
    page.get_by_placeholder("Password").fill(password)
    button = page.get_by_role("button", name="Log in")
    button.wait_for()
    start = time.perf_counter()
    button.click()
    page.locator("[data-kpi-value=total_spend]").wait_for()
    wait_for_charts(page, timeout=30_000)
    elapsed = time.perf_counter() - start
    if kpi_total(page) == "…":
        raise RuntimeError("KPIs did not load")
    return elapsed


def change_and_wait(page, change) -> float:
    """Seconds from a filter change to every chart redrawn with different data."""
    before = chart_fingerprints(page)
    start = time.perf_counter()
    change()
    wait_for_charts(page, changed_from=before, timeout=30_000)
    return time.perf_counter() - start


def choose_preset(page, label: str) -> None:
    page.locator("select:has(option:text-is('Year to date'))").select_option(label=label)


def set_category(page, category: str) -> None:
    """Make `category` the only selected category (removing the previous one first)."""
    remove = page.locator(".choices__button")
    if remove.count():
        remove.first.click()
    picker = page.get_by_role("textbox", name="All categories")
    picker.click()
    picker.press_sequentially(category)
    page.get_by_role("option", name=category, exact=True).click()
    picker.press("Escape")


def run(dashboard_url: str, runs: int, email: str, password: str, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    results: dict[str, list[float]] = {"login_to_charts": [], "date_range_change": []}
    results["category_change"] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        # Warm-up: the first session pays for imports and caches on the server.
        warm = browser.new_page(viewport={"width": 1400, "height": 1000})
        log_in(warm, dashboard_url, email, password)
        warm.close()
        for i in range(runs):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            page = context.new_page()
            page.set_default_timeout(30_000)
            results["login_to_charts"].append(log_in(page, dashboard_url, email, password))
            preset = PRESET_CYCLE[i % len(PRESET_CYCLE)]
            results["date_range_change"].append(
                change_and_wait(page, lambda: choose_preset(page, preset))
            )
            category = CATEGORY_CYCLE[i % len(CATEGORY_CYCLE)]
            results["category_change"].append(
                change_and_wait(page, lambda: set_category(page, category))
            )
            context.close()
        browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--api-url", default=None, help="use this API (with --dashboard-url)")
    parser.add_argument("--dashboard-url", default=None, help="use this running dashboard")
    parser.add_argument("--email", default="analyst@acme.example")
    parser.add_argument("--password", default="spendlens-demo")
    parser.add_argument(
        "--chromium", default=os.environ.get("SPENDLENS_CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "output" / "dashboard.json")
    args = parser.parse_args()

    with ExitStack() as stack:
        if args.dashboard_url:
            dashboard_url = args.dashboard_url.rstrip("/") + "/"
        else:
            _, dashboard_url = provision(stack)
        results = run(dashboard_url, args.runs, args.email, args.password, args.chromium)

    targets = {"login_to_charts": 3.0, "date_range_change": 1.0, "category_change": 1.0}
    summary = {}
    print(f"\nDashboard benchmark ({args.runs} runs, headless Chromium)")
    print(f"{'measure':<22}{'median s':>10}{'min s':>8}{'max s':>8}{'target s':>10}  ok")
    for name, samples in results.items():
        median = statistics.median(samples)
        ok = median <= targets[name]
        summary[name] = {
            "median_s": round(median, 3),
            "min_s": round(min(samples), 3),
            "max_s": round(max(samples), 3),
            "samples_s": [round(s, 3) for s in samples],
            "target_s": targets[name],
            "ok": ok,
        }
        print(
            f"{name:<22}{median:>10.3f}{min(samples):>8.3f}{max(samples):>8.3f}"
            f"{targets[name]:>10.1f}  {'yes' if ok else 'NO'}"
        )
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2))
    print(f"\nFigures written to {args.json.relative_to(ROOT)}")
    return 0 if all(s["ok"] for s in summary.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
