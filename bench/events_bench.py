"""Event ingest benchmark: events/s through POST /api/v1/events over real HTTP — uvicorn in a
subprocess, several client processes each posting batches of 1,000 events with an ingest key.

    .venv/bin/python bench/events_bench.py [--clients 4] [--batches 40] [--workers 2]
                                           [--customers 100000] [--keep]

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), or
an embedded PostgreSQL when none answers. A database `spendlens_events_bench` is created (and
dropped unless --keep). Bodies are built and serialised before the clock starts, so the clients
spend their CPU on HTTP only; the server, PostgreSQL and the clients share the machine's cores.

The events: a mix of the documented types (logins and feature use most, payments, shop changes,
signups, tickets, custom types) over the last 12 months, for `--customers` existing customers
plus 2% new ones (created as leads by their first event). After the timed run, every batch is
sent again once: all duplicates, nothing stored.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.testing import free_port, test_server_url  # noqa: E402

DATABASE = "spendlens_events_bench"
TYPES = [
    ("login", 40), ("feature_used", 25), ("payment_succeeded", 8), ("payment_failed", 1),
    ("plan_selected", 2), ("shop_created", 2), ("shop_deleted", 1), ("signed_up", 3),
    ("support_ticket_opened", 2), ("support_ticket_closed", 2), ("custom.page_viewed", 14),
]  # fmt: skip
FEATURES = ["reports", "export", "segments", "dashboard", "alerts", "api"]


def prepare(admin_url: str, customers: int) -> tuple[str, str]:
    """The migrated bench database with one organisation, its customers and an ingest key."""
    from spendlens.cli import migrate
    from spendlens.events.keys import INGEST_KEY_PREFIX, SHOWN_PREFIX_LENGTH, key_hash
    from spendlens.local_db import with_database

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
    url = with_database(admin_url, DATABASE)
    migrate(url)
    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO organizations (name, slug, base_currency, timezone) "
        "VALUES ('Bench Org', 'bench', 'USD', 'UTC') RETURNING id"
    )
    org_id = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
        "SELECT %s, 'B' || g, 'Customer ' || g, 'customer' FROM generate_series(1, %s) g",
        (org_id, customers),
    )
    secret = INGEST_KEY_PREFIX + uuid.uuid4().hex + uuid.uuid4().hex
    cur.execute(
        "INSERT INTO ingest_keys (org_id, name, key_hash, prefix) VALUES (%s, 'bench', %s, %s)",
        (org_id, key_hash(secret), secret[:SHOWN_PREFIX_LENGTH]),
    )
    conn.commit()
    cur.execute("ANALYZE customers")
    conn.commit()
    conn.close()
    return url, secret


def make_event(rng: random.Random, customers: int, now: datetime) -> dict:
    kind = rng.choices([t for t, _ in TYPES], weights=[w for _, w in TYPES])[0]
    if rng.random() < 0.02:
        customer = f"N{rng.randint(1, customers // 10 + 1)}"  # new: created as a lead
    else:
        customer = f"B{rng.randint(1, customers)}"
    occurred = now - timedelta(seconds=rng.randint(0, 365 * 86400))
    shop = f"S-{customer}"
    properties: dict = {}
    if kind == "feature_used":
        properties = {"feature": rng.choice(FEATURES), "duration_ms": rng.randint(10, 9000)}
    elif kind in ("payment_succeeded", "payment_failed"):
        properties = {"amount": f"{rng.randint(5, 200)}.00", "currency": "USD"}
        properties["invoice_id"] = f"INV-{uuid.UUID(int=rng.getrandbits(128))}"
        if kind == "payment_succeeded":
            properties["payment_id"] = f"PAY-{uuid.UUID(int=rng.getrandbits(128))}"
        else:
            properties["reason"] = "card_declined"
    elif kind in ("plan_selected", "shop_created"):
        properties = {"shop_id": shop, "plan_id": rng.choice(["starter", "growth", "pro"])}
    elif kind == "shop_deleted":
        properties = {"shop_id": shop}
    elif kind == "signed_up":
        properties = {"email": f"{customer.lower()}@bench.example", "name": f"Customer {customer}"}
    elif kind.startswith("support_ticket"):
        properties = {"ticket_id": f"T-{rng.randint(1, 10**6)}"}
    elif kind.startswith("custom."):
        properties = {"page": f"/p/{rng.randint(1, 500)}", "referrer": "search"}
    return {
        "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "type": kind,
        "occurred_at": occurred.isoformat(),
        "customer": customer,
        "properties": properties,
    }


def build_bodies(client: int, batches: int, customers: int) -> list[bytes]:
    rng = random.Random(f"events-bench:{client}")
    now = datetime.now(UTC)
    return [
        json.dumps({"events": [make_event(rng, customers, now) for _ in range(1000)]}).encode()
        for _ in range(batches)
    ]


def client_run(args: tuple) -> dict:
    """One client process: wait for the start signal, post every body, report."""
    client, base, secret, bodies, start_at = args
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    latencies, stored, duplicate, rejected, errors = [], 0, 0, 0, 0
    with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
        while time.time() < start_at:
            time.sleep(0.005)
        began = time.perf_counter()
        cpu_before = time.process_time()
        for body in bodies:
            sent = time.perf_counter()
            response = http.post("/api/v1/events", content=body)
            latencies.append(time.perf_counter() - sent)
            if response.status_code != 200:
                errors += 1
                continue
            answer = response.json()
            stored += answer["stored"]
            duplicate += answer["duplicate"]
            rejected += answer["rejected"]
        ended = time.perf_counter()
        client_cpu = time.process_time() - cpu_before
    return {
        "client_cpu": client_cpu,
        "client": client,
        "began": began,
        "ended": ended,
        "latencies": latencies,
        "stored": stored,
        "duplicate": duplicate,
        "rejected": rejected,
        "errors": errors,
    }


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes have used so far (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def postgres_pids(url: str) -> list[int]:
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (DATABASE,),
        )
        pids = [row[0] for row in cur.fetchall()]
    conn.close()
    return pids


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(pool, base: str, secret: str, bodies: list[list[bytes]], api: list[int], url: str) -> dict:
    start_at = time.time() + 1.0
    backends = postgres_pids(url)
    api_before, db_before = cpu_seconds(api), cpu_seconds(backends)
    reports = pool.map(
        client_run, [(n, base, secret, b, start_at) for n, b in enumerate(bodies)], chunksize=1
    )
    # Backends opened during the run are missed by db_before; the pool keeps them open, so
    # they are counted whole (their CPU before the run was nil).
    backends_after = postgres_pids(url)
    api_cpu = cpu_seconds(api) - api_before
    db_cpu = cpu_seconds(backends_after) - db_before
    wall = max(r["ended"] for r in reports) - min(r["began"] for r in reports)
    latencies = [x for r in reports for x in r["latencies"]]
    totals = {k: sum(r[k] for r in reports) for k in ("stored", "duplicate", "rejected", "errors")}
    events = sum(len(b) for b in bodies) * 1000
    thousands = events / 1000
    return {
        "api_ms": api_cpu * 1000 / thousands,
        "db_ms": db_cpu * 1000 / thousands,
        "client_ms": sum(r["client_cpu"] for r in reports) * 1000 / thousands,
        "wall": wall,
        "events": events,
        "rate": events / wall,
        "p50": percentile(latencies, 0.5) * 1000,
        "p95": percentile(latencies, 0.95) * 1000,
        **totals,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--batches", type=int, default=40, help="batches of 1,000 per client")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database")
    args = parser.parse_args()

    os.environ.setdefault("SPENDLENS_ENV", "local")
    admin_url = test_server_url()
    print(f"Preparing {DATABASE} with {args.customers:,} customers ...", flush=True)
    url, secret = prepare(admin_url, args.customers)
    print("Building bodies ...", flush=True)
    bodies = [build_bodies(n, args.batches, args.customers) for n in range(args.clients)]

    port = free_port()
    env = dict(
        os.environ,
        SPENDLENS_DATABASE_URL=url,
        SPENDLENS_LOG_LEVEL="WARNING",
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "spendlens.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log", "--workers", str(args.workers)],
        env=env, cwd=ROOT / "backend",
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.time() > deadline:
                raise RuntimeError("API did not start")
            time.sleep(0.2)
        # Warm-up: one batch per worker, so connections and caches are in place.
        warm = build_bodies(999, args.workers, args.customers)
        for body in warm:
            headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
            httpx.post(f"{base}/api/v1/events", content=body, headers=headers, timeout=120)

        api = server_pids(server.pid)
        with multiprocessing.get_context("spawn").Pool(args.clients) as pool:
            first = run(pool, base, secret, bodies, api, url)
            again = run(pool, base, secret, bodies, api, url)
        print(
            f"\n{args.clients} clients × {args.batches} batches of 1,000 events, "
            f"{args.workers} uvicorn workers, {args.customers:,} customers\n"
        )
        print("| run | events | seconds | events/s | batch p50 ms | batch p95 ms | stored | "
              "duplicate | rejected | errors |")  # fmt: skip
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for label, r in (("new events", first), ("same batches again", again)):
            print(
                f"| {label} | {r['events']:,} | {r['wall']:.1f} | {r['rate']:,.0f} | "
                f"{r['p50']:.0f} | {r['p95']:.0f} | {r['stored']:,} | {r['duplicate']:,} | "
                f"{r['rejected']:,} | {r['errors']} |"
            )
        print(
            "\nCPU per 1,000 events (ms): API processes, PostgreSQL backends, clients; and the "
            "rate two otherwise idle cores would sustain for API + PostgreSQL alone"
        )
        print("| run | API | PostgreSQL | clients | events/s on 2 free cores |")
        print("|---|---:|---:|---:|---:|")
        for label, r in (("new events", first), ("same batches again", again)):
            capacity = 2 * 1_000_000 / (r["api_ms"] + r["db_ms"])
            print(
                f"| {label} | {r['api_ms']:.0f} | {r['db_ms']:.0f} | {r['client_ms']:.0f} | "
                f"{capacity:,.0f} |"
            )
        print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores, load average "
              f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end.")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
        if not args.keep:
            conn = psycopg2.connect(admin_url)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
