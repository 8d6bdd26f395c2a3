"""Dashboard memory benchmark: does the dashboard server's memory stay flat over many sessions?

Runs N cycles (default 200) of: open the dashboard in a fresh browser context → log in as the demo
analyst → wait for every overview chart → log out → close the context (the Bokeh session loses
its connection and the server destroys it once it has been unused for a while). The dashboard runs
as a separate process, so its resident memory (RSS) can be sampled: after the warm-up cycles, then
every 10 cycles, and once more when every finished session has been destroyed ("settled").

    .venv/bin/python bench/dashboard_memory_bench.py [--cycles 200] [--warmup 20]
    .venv/bin/python bench/dashboard_memory_bench.py --api-url http://127.0.0.1:8000 \\
        --dashboard-url http://127.0.0.1:5006/ [--dashboard-pid PID]

Without URLs it provisions everything like the tests do: a database on TEST_DATABASE_URL's server
seeded as of 2026-06-30, the API (uvicorn, in this process) and the dashboard
(`spendlens_dashboard.server`'s `serve()`, in a child process) on free ports, all stopped/dropped
at the end. The child also answers GET /bench/memory (live Bokeh sessions, App objects alive,
download keys, periodic callbacks, Python objects; and, with SPENDLENS_BENCH_TRACEMALLOC=1, the
lines whose allocations grew most since the first probe). A running dashboard given by URL has no
probe: only its RSS is sampled (its pid is found from the port unless --dashboard-pid is given).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "backend"), str(ROOT / "frontend")]
os.environ.setdefault("SPENDLENS_ENV", "test")
os.environ.setdefault("SPENDLENS_SECRET_KEY", "bench-secret-key-not-for-production-0123456789")
os.environ.setdefault("SPENDLENS_DASHBOARD_TODAY", "2026-06-30")
# The API runs in this process: its access log would bury the samples.
os.environ.setdefault("SPENDLENS_LOG_LEVEL", "WARNING")

import httpx  # noqa: E402
import psutil  # noqa: E402
import tornado.web  # noqa: E402
from dashboard_bench import CHROMIUM_ARGS, wait_until_up  # noqa: E402

PROBE_PATH = "/bench/memory"
SAMPLE_EVERY = 10
GROWTH_LIMIT_PCT = 10.0


# -- the dashboard child process --------------------------------------------------------------


def serve_dashboard_with_probe(host: str, port: int, api_url: str) -> None:
    """The dashboard exactly as `python -m spendlens_dashboard.server` serves it, plus the probe."""
    from spendlens_dashboard import server

    if os.environ.get("SPENDLENS_BENCH_TRACEMALLOC") == "1":
        tracemalloc.start(10)
    server_kwargs = server._server_kwargs

    def with_probe(*args, **kwargs) -> dict:
        kwargs = server_kwargs(*args, **kwargs)
        kwargs["extra_patterns"] = [*kwargs.get("extra_patterns", []), (PROBE_PATH, MemoryProbe)]
        return kwargs

    server._server_kwargs = with_probe
    server.serve(host, port, api_url)


class MemoryProbe(tornado.web.RequestHandler):
    """GET /bench/memory in the dashboard process: what is alive after a full collection."""

    baseline: tracemalloc.Snapshot | None = None

    def get(self) -> None:
        import panel as pn

        from spendlens_dashboard.app import App, Workspace
        from spendlens_dashboard.export import DOWNLOAD_KEYS

        gc.collect()
        objects = gc.get_objects()
        sessions = self.application.get_sessions("/")
        answer = {
            "rss": psutil.Process().memory_info().rss,
            "sessions": len(sessions),
            "connected_sessions": sum(1 for s in sessions if s.connection_count > 0),
            "apps_alive": sum(1 for o in objects if isinstance(o, App)),
            "workspaces_alive": sum(1 for o in objects if isinstance(o, Workspace)),
            "download_keys": len(DOWNLOAD_KEYS),
            "periodic_callbacks": sum(len(cbs) for cbs in pn.state._periodic.values()),
            "python_objects": len(objects),
        }
        del objects
        if tracemalloc.is_tracing():
            snapshot = tracemalloc.take_snapshot()
            if MemoryProbe.baseline is None:
                MemoryProbe.baseline = snapshot
            answer["tracemalloc_top"] = [
                {
                    "size_diff_kb": round(stat.size_diff / 1024, 1),
                    "count_diff": stat.count_diff,
                    "where": stat.traceback.format(limit=6),
                }
                for stat in snapshot.compare_to(MemoryProbe.baseline, "traceback")[:8]
            ]
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(answer))


# -- provisioning -----------------------------------------------------------------------------


def start_api(stack: ExitStack) -> str:
    """Seeded database and the API (uvicorn on a thread of this process); returns its URL."""
    import threading

    import uvicorn
    from spendlens.cli import _use_database
    from spendlens.testing import DatabaseFactory, free_port, migrated_and_seeded, test_server_url

    factory = DatabaseFactory(test_server_url())
    stack.callback(factory.drop_all)
    print("Seeding the demo data (as of 2026-06-30) ...", flush=True)
    url = migrated_and_seeded(factory.create())
    _use_database(url)
    port = free_port()
    api = uvicorn.Server(
        uvicorn.Config(
            "spendlens.main:create_app",
            factory=True,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
        )
    )
    thread = threading.Thread(target=api.run, daemon=True)
    thread.start()
    stack.callback(thread.join, 10)
    stack.callback(setattr, api, "should_exit", True)
    api_url = f"http://127.0.0.1:{port}"
    wait_until_up(api_url + "/livez")
    return api_url


def start_dashboard(stack: ExitStack, api_url: str) -> tuple[str, int]:
    """The dashboard in a child process; returns (its URL, its pid)."""
    from spendlens.testing import free_port

    port = free_port()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "backend"), str(ROOT / "frontend"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    command = [sys.executable, str(Path(__file__).resolve()), "--serve-dashboard"]
    command += ["--port", str(port), "--api-url", api_url]
    log = open(ROOT / "bench" / "output" / "dashboard_memory_server.log", "w")
    stack.callback(log.close)
    child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.callback(_stop, child)
    url = f"http://127.0.0.1:{port}/"
    wait_until_up(url + "liveness")
    return url, child.pid


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


def pid_listening_on(url: str) -> int:
    port = urlparse(url).port
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr.port == port and conn.pid:
            return conn.pid
    raise RuntimeError(f"no process of ours listens on port {port}; pass --dashboard-pid")


# -- the cycles -------------------------------------------------------------------------------


def probe(dashboard_url: str) -> dict:
    """The child's own account of what is alive, or {} for a dashboard without the probe."""
    try:
        answer = httpx.get(dashboard_url.rstrip("/") + PROBE_PATH, timeout=60)
    except httpx.TransportError:
        return {}
    return answer.json() if answer.status_code == 200 else {}


def sample(process: psutil.Process, dashboard_url: str, cycle: int, started: float) -> dict:
    rss = process.memory_info().rss  # read before the probe's garbage collection
    point = {"cycle": cycle, "seconds": round(time.monotonic() - started, 1), "rss_mb": mb(rss)}
    details = probe(dashboard_url)
    details.pop("rss", None)
    point.update(details)
    top = point.pop("tracemalloc_top", None)
    print("  " + "  ".join(f"{k}={v}" for k, v in point.items()), flush=True)
    if top:
        point["tracemalloc_top"] = top
    return point


def mb(size: int) -> float:
    return round(size / 2**20, 1)


def one_cycle(browser, dashboard_url: str, email: str, password: str) -> float:
    """Open → log in → overview charts drawn → log out → close; returns the cycle's seconds."""
    from spendlens_dashboard.probes import wait_for_charts

    start = time.perf_counter()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(dashboard_url)
        page.get_by_placeholder("you@company.example").fill(email)
        page.get_by_placeholder("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        page.locator("[data-kpi-value=total_spend]").wait_for()
        wait_for_charts(page, timeout=60_000)
        page.get_by_role("button", name="Log out").click()
        # Back on the login page: the workspace of this login has been disposed of.
        page.get_by_placeholder("you@company.example").wait_for()
    finally:
        context.close()
    return time.perf_counter() - start


def run(args: argparse.Namespace, dashboard_url: str, pid: int) -> dict:
    from playwright.sync_api import sync_playwright

    process = psutil.Process(pid)
    series: list[dict] = []
    cycle_seconds: list[float] = []
    started = time.monotonic()
    print(f"Dashboard pid {pid}, RSS at start {mb(process.memory_info().rss)} MB", flush=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
        try:
            for cycle in range(1, args.cycles + 1):
                cycle_seconds.append(one_cycle(browser, dashboard_url, args.email, args.password))
                print(f"cycle {cycle}: {cycle_seconds[-1]:.1f} s", flush=True)
                if cycle == args.warmup or (
                    cycle > args.warmup and (cycle - args.warmup) % SAMPLE_EVERY == 0
                ):
                    series.append(sample(process, dashboard_url, cycle, started))
                elif cycle == args.cycles:
                    series.append(sample(process, dashboard_url, cycle, started))
        finally:
            browser.close()

    settled = None
    if args.settle > 0:
        # Closed sessions linger until the server's unused-session check discards them.
        print(f"Waiting up to {args.settle:.0f} s for the finished sessions to be destroyed ...")
        deadline = time.monotonic() + args.settle
        while time.monotonic() < deadline:
            if probe(dashboard_url).get("sessions", 0) == 0:
                break
            time.sleep(5)
        settled = sample(process, dashboard_url, args.cycles, started)
    return {"series": series, "settled": settled, "cycle_seconds": cycle_seconds}


def report(args: argparse.Namespace, results: dict) -> dict:
    series = results["series"]
    warm, end = series[0], series[-1]
    growth = (end["rss_mb"] - warm["rss_mb"]) / warm["rss_mb"] * 100
    settled = results["settled"]
    seconds = sorted(results["cycle_seconds"])
    summary = {
        "cycles": args.cycles,
        "warmup_cycles": args.warmup,
        "rss_at_warmup_mb": warm["rss_mb"],
        "rss_at_end_mb": end["rss_mb"],
        "growth_pct": round(growth, 1),
        "rss_settled_mb": settled["rss_mb"] if settled else None,
        "peak_rss_mb": max(p["rss_mb"] for p in series),
        "cycle_median_s": round(seconds[len(seconds) // 2], 2),
        "ok": growth <= GROWTH_LIMIT_PCT,
        "series": series,
        "settled": settled,
    }
    print(f"\nDashboard memory over {args.cycles} login → overview → logout cycles")
    print(f"RSS after {args.warmup} warm-up cycles: {warm['rss_mb']:.1f} MB")
    print(f"RSS after cycle {end['cycle']}:          {end['rss_mb']:.1f} MB")
    print(f"growth: {growth:+.1f} % (limit {GROWTH_LIMIT_PCT:.0f} %)  ok: {summary['ok']}")
    if settled:
        print(
            f"settled (sessions {settled.get('sessions', '?')}): {settled['rss_mb']:.1f} MB, "
            f"Apps alive {settled.get('apps_alive', '?')}"
        )
    print(f"median cycle {summary['cycle_median_s']} s")
    print("series (cycle: MB): " + ", ".join(f"{p['cycle']}: {p['rss_mb']}" for p in series))
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cycles", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20, help="cycles before the first sample")
    parser.add_argument("--api-url", default=None, help="use this API (with --dashboard-url)")
    parser.add_argument("--dashboard-url", default=None, help="use this running dashboard")
    parser.add_argument("--dashboard-pid", type=int, default=None, help="its process id")
    parser.add_argument("--email", default="analyst@acme.example")
    parser.add_argument("--password", default="spendlens-demo")
    parser.add_argument(
        "--settle",
        type=float,
        default=240.0,
        help="seconds to wait at the end for closed sessions to be destroyed (0: don't)",
    )
    parser.add_argument(
        "--chromium", default=os.environ.get("SPENDLENS_CHROMIUM", "/usr/bin/chromium")
    )
    parser.add_argument(
        "--json", type=Path, default=ROOT / "bench" / "output" / "dashboard_memory.json"
    )
    # The child process role (hidden): serve the dashboard with the probe.
    parser.add_argument("--serve-dashboard", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=5006, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_dashboard:
        serve_dashboard_with_probe("127.0.0.1", args.port, args.api_url)
        return 0
    if args.warmup < 1 or args.cycles < args.warmup:
        parser.error("need 1 <= --warmup <= --cycles")

    (ROOT / "bench" / "output").mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if args.dashboard_url:
            dashboard_url = args.dashboard_url.rstrip("/") + "/"
            pid = args.dashboard_pid or pid_listening_on(dashboard_url)
        else:
            api_url = start_api(stack)
            dashboard_url, pid = start_dashboard(stack, api_url)
        results = run(args, dashboard_url, pid)

    summary = report(args, results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(summary, indent=2))
    print(f"\nFigures written to {args.json}")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
