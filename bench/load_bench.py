"""Load benchmark: many concurrent clients on mixed reads, with stalled export downloads beside
them, against the API (uvicorn in a subprocess, default settings) over the seeded demo data.

    .venv/bin/python bench/load_bench.py [--clients 128] [--seconds 120] [--stalled 50]

A stalled download asks for `GET /api/v1/transactions/export.csv` (the whole of Acme Retail,
~150,000 rows) and never reads a byte; each is replaced by a fresh one every `--stall-seconds`,
so `--stalled` of them are open at any moment. Every other response must be a 200: the script
reports errors (any other status or a transport error), throughput and p50/p95/p99 latency, writes
the samples to bench/output/load.json and exits non-zero when there was an error.

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
or an embedded PostgreSQL when none answers. A database `spendlens_load_bench` is created and
dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.testing import (  # noqa: E402
    DEMO_AS_OF,
    free_port,
    migrated_and_seeded,
    test_server_url,
)

DATABASE = "spendlens_load_bench"
END = DEMO_AS_OF.isoformat()
# Mixed reads, as the dashboard and API users make them (the demo data ends on DEMO_AS_OF).
READS = [
    "/api/v1/auth/me",
    f"/api/v1/transactions?limit=20&end_date={END}",
    f"/api/v1/transactions?limit=20&category=Electronics&sort=-amount&end_date={END}",
    f"/api/v1/metrics?end_date={END}",
    f"/api/v1/metrics/timeseries?interval=month&end_date={END}",
    f"/api/v1/metrics/breakdown?by=merchant&top=5&end_date={END}",
    "/api/v1/customers?limit=20",
    "/api/v1/merchants?q=a",
    "/api/v1/categories",
]


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def prepare(admin_url: str) -> str:
    from spendlens.local_db import with_database

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
    return migrated_and_seeded(with_database(admin_url, DATABASE))


def kept_database(admin_url: str) -> str | None:
    from spendlens.local_db import with_database

    conn = psycopg2.connect(admin_url)
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        exists = cur.fetchone() is not None
    conn.close()
    return with_database(admin_url, DATABASE) if exists else None


def drop(admin_url: str) -> None:
    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    conn.close()


def start_api(url: str, log_path: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, SPENDLENS_DATABASE_URL=url, SPENDLENS_LOG_LEVEL="WARNING")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "backend"), env.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "spendlens.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=open(log_path, "wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the API did not start; see " + str(log_path))


def login(base: str) -> str:
    response = httpx.post(
        base + "/api/v1/auth/login",
        data={"username": "viewer@acme.example", "password": "spendlens-demo"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access_token"]


def open_stalled(host: str, port: int, token: str) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, port))
    sock.sendall(
        (
            "GET /api/v1/transactions/export.csv HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
    )
    return sock


async def keep_stalled(
    base: str, token: str, count: int, lifetime: float, stop: asyncio.Event, opened: list[int]
) -> None:
    """`count` downloads that never read, each replaced by a new one after `lifetime` seconds
    (staggered, so `count` are open at any moment)."""
    host, port = "127.0.0.1", int(base.rsplit(":", 1)[1])
    slots: list[tuple[socket.socket, float]] = []
    now = time.monotonic()
    for n in range(count):
        slots.append((open_stalled(host, port, token), now - lifetime * n / count))
        opened[0] += 1
    while not stop.is_set():
        now = time.monotonic()
        for i, (sock, born) in enumerate(slots):
            if now - born >= lifetime:
                sock.close()
                slots[i] = (open_stalled(host, port, token), now)
                opened[0] += 1
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass
    for sock, _ in slots:
        sock.close()


async def run_clients(base: str, token: str, clients: int, seconds: float) -> list[dict]:
    samples: list[dict] = []
    # Idle connections expire before uvicorn's 5 s keep-alive closes them: reusing one the server
    # is closing would count its race as an error of the API.
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=1.0
    )
    async with httpx.AsyncClient(
        base_url=base,
        headers={"Authorization": f"Bearer {token}"},
        limits=limits,
        timeout=httpx.Timeout(120),
    ) as client:
        deadline = time.monotonic() + seconds

        async def one_client(n: int) -> None:
            i = n
            while time.monotonic() < deadline:
                path = READS[i % len(READS)]
                i += 1
                started = time.monotonic()
                try:
                    status = (await client.get(path)).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                samples.append(
                    {"path": path, "status": status, "seconds": time.monotonic() - started}
                )

        await asyncio.gather(*(one_client(n) for n in range(clients)))
    return samples


async def measure(base: str, token: str, args: argparse.Namespace) -> tuple[list[dict], int]:
    stop = asyncio.Event()
    opened = [0]
    stalled = asyncio.create_task(
        keep_stalled(base, token, args.stalled, args.stall_seconds, stop, opened)
    )
    await asyncio.sleep(1)  # let the stalled downloads fill their buffers first
    samples = await run_clients(base, token, args.clients, args.seconds)
    stop.set()
    await stalled
    return samples, opened[0]


def busy_connections(url: str) -> int:
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid() AND state <> 'idle'"
        )
        (count,) = cur.fetchone()
    conn.close()
    return count


def server_side(base: str) -> dict:
    """Request durations as the API measured them (from accepting the request to its last
    byte), to tell the server's queueing from the load generator's own delays."""
    text = httpx.get(base + "/metrics", timeout=30).text
    count = total = within_1s = within_5s = 0.0
    for line in text.splitlines():
        if not line.startswith("spendlens_http_request_duration_seconds") or "/api/v1" not in line:
            continue
        name, value = line.rsplit(" ", 1)
        if name.startswith("spendlens_http_request_duration_seconds_count"):
            count += float(value)
        elif name.startswith("spendlens_http_request_duration_seconds_sum"):
            total += float(value)
        elif 'le="1.0"' in name:
            within_1s += float(value)
        elif 'le="5.0"' in name:
            within_5s += float(value)
    return {
        "requests": int(count),
        "mean_ms": round(1000 * total / count, 1) if count else None,
        "within_1s": within_1s / count if count else 0.0,
        "within_5s": within_5s / count if count else 0.0,
    }


def report(samples: list[dict], seconds: float, stalled_opened: int, args) -> dict:
    ok = [s["seconds"] * 1000 for s in samples if s["status"] == 200]
    errors = Counter(str(s["status"]) for s in samples if s["status"] != 200)
    by_path: dict[str, list[float]] = defaultdict(list)
    for s in samples:
        if s["status"] == 200:
            by_path[s["path"]].append(s["seconds"] * 1000)
    summary = {
        "clients": args.clients,
        "seconds": seconds,
        "stalled_downloads_open": args.stalled,
        "stalled_downloads_started": stalled_opened,
        "requests": len(samples),
        "errors": sum(errors.values()),
        "errors_by_status": dict(errors),
        "throughput_per_s": round(len(samples) / seconds, 1),
        "p50_ms": round(percentile(ok, 0.5), 1),
        "p95_ms": round(percentile(ok, 0.95), 1),
        "p99_ms": round(percentile(ok, 0.99), 1),
        "max_ms": round(max(ok, default=float("nan")), 1),
    }
    print(
        f"\n{args.clients} clients x {seconds:.0f} s, {args.stalled} stalled export downloads open"
        f" ({stalled_opened} started)"
    )
    print(
        f"requests {summary['requests']}, errors {summary['errors']} {dict(errors) or ''}, "
        f"{summary['throughput_per_s']} req/s"
    )
    print(
        f"latency ms: p50 {summary['p50_ms']}  p95 {summary['p95_ms']}  p99 {summary['p99_ms']}"
        f"  max {summary['max_ms']}\n"
    )
    print("| route | requests | p50 ms | p99 ms |\n|---|---:|---:|---:|")
    for path in READS:
        times = by_path.get(path, [])
        print(
            f"| `{path}` | {len(times)} | {percentile(times, 0.5):.0f} |"
            f" {percentile(times, 0.99):.0f} |"
        )
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=128)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--stalled", type=int, default=50)
    parser.add_argument("--stall-seconds", type=float, default=20)
    parser.add_argument(
        "--keep", action="store_true", help="keep the seeded database and reuse a kept one"
    )
    args = parser.parse_args()

    admin_url = test_server_url()
    url = kept_database(admin_url) if args.keep else None
    if url is None:
        print("seeding the demo data ...", flush=True)
        url = prepare(admin_url)
    log_path = Path(tempfile.mkdtemp(prefix="spendlens-load-")) / "api.log"
    process, base = start_api(url, log_path)
    try:
        token = login(base)
        print(f"running against {base} (API log: {log_path}) ...", flush=True)
        started = time.monotonic()
        samples, opened = asyncio.run(measure(base, token, args))
        elapsed = time.monotonic() - started - 1
        summary = report(samples, elapsed, opened, args)
        summary["server"] = server_side(base)
        print(
            "server side (Prometheus histogram, all routes):"
            f" {summary['server']['requests']} requests,"
            f" mean {summary['server']['mean_ms']} ms,"
            f" within 1 s {summary['server']['within_1s']:.1%},"
            f" within 5 s {summary['server']['within_5s']:.1%}"
        )
        time.sleep(3)
        summary["busy_connections_after"] = busy_connections(url)
        summary["readyz_after"] = httpx.get(base + "/readyz", timeout=30).status_code
        print(
            f"after the run: readyz {summary['readyz_after']}, "
            f"{summary['busy_connections_after']} connection(s) still busy"
        )
        output = ROOT / "bench" / "output"
        output.mkdir(exist_ok=True)
        (output / "load.json").write_text(
            json.dumps({"summary": summary, "samples": samples}, indent=1)
        )
    finally:
        process.terminate()
        process.wait(timeout=30)
        if not args.keep:
            drop(admin_url)
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
