"""API benchmark: bulk-load N transactions with COPY, then time /metrics, /metrics/timeseries and a
/transactions page through real HTTP (uvicorn in a subprocess) beside the same SQL run directly.

    .venv/bin/python bench/api_bench.py [--rows 1000000] [--calls 50]

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres), or
an embedded PostgreSQL when none answers. A database `spendlens_bench` is created and dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.testing import free_port, test_server_url  # noqa: E402

BENCH_EMAIL = "bench@bench.example"
BENCH_PASSWORD = "bench-password"
CATEGORIES = [
    "Groceries", "Electronics", "Apparel", "Home & Garden", "Health & Beauty", "Sports & Outdoors",
    "Toys & Games", "Books & Media", "Restaurants", "Travel", "Entertainment", "Services",
]  # fmt: skip


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def prepare(admin_url: str, rows: int, as_of: date) -> tuple[str, dict[str, float]]:
    from spendlens.auth.security import hash_password
    from spendlens.cli import migrate
    from spendlens.local_db import with_database

    conn = psycopg2.connect(admin_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS spendlens_bench WITH (FORCE)")
        cur.execute("CREATE DATABASE spendlens_bench")
    conn.close()
    url = with_database(admin_url, "spendlens_bench")
    migrate(url)

    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO organizations (name, slug, base_currency, timezone) "
        "VALUES ('Bench Org', 'bench', 'USD', 'UTC') RETURNING id"
    )
    org_id = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO users (org_id, email, full_name, password_hash, role, is_active, "
        "token_version) VALUES (%s, %s, 'Bench', %s, 'analyst', true, 1)",
        (org_id, BENCH_EMAIL, hash_password(BENCH_PASSWORD)),
    )
    customers = max(100, rows // 75)
    cur.execute(
        "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
        "SELECT %s, 'B' || g, 'Customer ' || g, 'customer' FROM generate_series(1, %s) g "
        "RETURNING id",
        (org_id, customers),
    )
    customer_ids = [r[0] for r in cur.fetchall()]
    cur.execute(
        "INSERT INTO merchants (org_id, name, default_category) "
        "SELECT %s, 'Merchant ' || g, NULL FROM generate_series(1, 60) g RETURNING id",
        (org_id,),
    )
    merchant_ids = [r[0] for r in cur.fetchall()]
    conn.commit()

    rng = random.Random(7)
    start = datetime.combine(as_of - timedelta(days=730), datetime.min.time(), tzinfo=UTC)
    span = 731 * 86400

    def generate():
        for i in range(rows):
            amount = max(1, int(rng.lognormvariate(3.7, 0.9) * 100))
            refund = i % 100 == 99
            when = start + timedelta(seconds=rng.randrange(span))
            line = (
                f"{org_id},{rng.choice(customer_ids)},{rng.choice(merchant_ids)},"
                f"{when.isoformat()},{'-' if refund else ''}{amount // 100}.{amount % 100:02d},"
                f"USD,{rng.choice(CATEGORIES)},bench item {i % 997},1,"
                f"{'refund' if refund else 'purchase'},BT{i}\n"
            )
            yield line.encode()

    # The rows are generated into a file first, so the figure measures COPY, not Python.
    with tempfile.TemporaryFile() as spool:
        for line in generate():
            spool.write(line)
        spool.seek(0)
        started = time.perf_counter()
        cur.copy_expert(
            "COPY transactions (org_id, customer_id, merchant_id, occurred_at, amount, currency, "
            "category, description, quantity, kind, external_id) FROM STDIN WITH (FORMAT csv)",
            spool,
        )
        conn.commit()
    load_seconds = time.perf_counter() - started
    conn.autocommit = True
    cur.execute("VACUUM ANALYZE transactions")
    conn.close()
    return url, {"rows": rows, "load_seconds": load_seconds, "rows_per_second": rows / load_seconds}


def capture_sql(url: str, path: str, params: dict, token: str) -> list[tuple[str, object]]:
    """The SQL statements the API runs for one request, captured in-process."""
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from spendlens.cli import _use_database
    from spendlens.db import get_engine
    from spendlens.main import create_app

    _use_database(url)
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", record)
    try:
        with TestClient(create_app()) as client:
            response = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            response.raise_for_status()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    # Authentication looks the user and organisation up; the benchmark compares the query work.
    return [
        (s, p) for s, p in statements if "FROM users" not in s and "FROM organizations" not in s
    ]


def time_direct(url: str, statements, calls: int) -> list[float]:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    cur = conn.cursor()
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        for statement, params in statements:
            cur.execute(statement, params)
            cur.fetchall()
        samples.append(time.perf_counter() - started)
    conn.close()
    return samples


def time_http(base: str, path: str, params: dict, token: str, calls: int) -> list[float]:
    samples = []
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        client.get(path, params=params).raise_for_status()  # warm the pool
        for _ in range(calls):
            started = time.perf_counter()
            client.get(path, params=params).raise_for_status()
            samples.append(time.perf_counter() - started)
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the spendlens_bench database")
    args = parser.parse_args()

    os.environ.setdefault("SPENDLENS_ENV", "local")
    as_of = datetime.now(UTC).date()
    admin_url = test_server_url()
    print(f"Loading {args.rows:,} transactions with COPY ...", flush=True)
    url, load = prepare(admin_url, args.rows, as_of)
    print(
        f"load: {load['rows']:,} rows in {load['load_seconds']:.1f} s "
        f"= {load['rows_per_second']:,.0f} rows/s (COPY incl. index maintenance)"
    )

    port = free_port()
    env = dict(os.environ, SPENDLENS_DATABASE_URL=url, SPENDLENS_LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "spendlens.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env=env, cwd=ROOT,
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
        token = httpx.post(
            f"{base}/api/v1/auth/login",
            data={"username": BENCH_EMAIL, "password": BENCH_PASSWORD},
        ).json()["access_token"]

        cases = [
            ("/api/v1/metrics", {"end_date": as_of.isoformat()}),
            ("/api/v1/metrics/timeseries", {"interval": "month", "end_date": as_of.isoformat()}),
            ("/api/v1/transactions", {"limit": 20}),
        ]
        print(f"\n{args.calls} calls each; times in ms")
        print("| endpoint | HTTP p50 | HTTP p95 | direct SQL p50 | direct SQL p95 | p95 ratio |")
        print("|---|---:|---:|---:|---:|---:|")
        for path, params in cases:
            statements = capture_sql(url, path, params, token)
            direct = time_direct(url, statements, args.calls)
            http = time_http(base, path, params, token, args.calls)
            label = path + ("?" + "&".join(f"{k}={v}" for k, v in params.items()) if params else "")
            h50, h95 = percentile(http, 0.5) * 1000, percentile(http, 0.95) * 1000
            d50, d95 = percentile(direct, 0.5) * 1000, percentile(direct, 0.95) * 1000
            print(
                f"| `{label}` | {h50:.1f} | {h95:.1f} | {d50:.1f} | {d95:.1f} | {h95 / d95:.2f}× |"
            )
        print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores, one uvicorn worker.")
    finally:
        server.terminate()
        server.wait(timeout=10)
        if not args.keep:
            conn = psycopg2.connect(admin_url)
            conn.autocommit = True
            conn.cursor().execute("DROP DATABASE IF EXISTS spendlens_bench WITH (FORCE)")
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
