"""Journey benchmark: stage rebuilds and the stage, time-series, funnel and flows queries at
1,000,000 events and 100,000 customers.

Creates a database `spendlens_journey_bench`, migrates it, generates the customers and events with
SQL (signups over two years, shops, monthly payments with gaps, shop and account deletions,
logins), rebuilds every customer's stages (the `journey` job's work, timed), then times each
query several times through the service functions the endpoints call (no HTTP).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

import psycopg2  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

DATABASE = "spendlens_journey_bench"
ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

GENERATE = """
CREATE TEMPORARY TABLE base AS
SELECT id, timestamptz '2024-07-01' + random() * interval '700 days' AS t0, random() AS r
FROM customers WHERE org_id = :org;

INSERT INTO events (org_id, event_id, customer_id, type, occurred_at, properties)
SELECT :org, gen_random_uuid(), id, 'signed_up', t0, '{}'::jsonb FROM base
UNION ALL
SELECT :org, gen_random_uuid(), id, 'shop_created', t0 + random() * interval '20 days',
       jsonb_build_object('shop_id', 's' || id, 'plan_id', 'basic')
FROM base WHERE r < 0.7
UNION ALL
SELECT :org, gen_random_uuid(), id, 'payment_succeeded',
       t0 + interval '21 days' + k * interval '30 days' + random() * interval '50 days',
       jsonb_build_object('payment_id', 'p' || id || '-' || k, 'amount', '29.00',
                          'currency', 'USD')
FROM base, generate_series(0, floor(base.r * 14)::int) AS k WHERE r < 0.5
UNION ALL
SELECT :org, gen_random_uuid(), id, 'shop_deleted', t0 + interval '200 days',
       jsonb_build_object('shop_id', 's' || id)
FROM base WHERE r BETWEEN 0.3 AND 0.4
UNION ALL
SELECT :org, gen_random_uuid(), id, 'account_deleted', t0 + interval '300 days', '{}'::jsonb
FROM base WHERE r < 0.05
UNION ALL
SELECT :org, gen_random_uuid(), id, 'login', t0 + random() * interval '400 days', '{}'::jsonb
FROM base, generate_series(1, :logins) AS k WHERE random() < 0.5;
"""


def run_outside_transaction(url: str, statement: str) -> None:
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def timed(runs: int, work) -> tuple[float, float, object]:
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(0.95 * len(samples)))]
    return statistics.median(samples), p95, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--logins", type=int, default=14, help="login draws per customer")
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()

    from spendlens.cli import migrate
    from spendlens.db import make_engine
    from spendlens.events.partitions import ensure_partitions
    from spendlens.jobs.registry import find_kind
    from spendlens.journey import repository, service
    from spendlens.local_db import with_database
    from spendlens.metrics.schemas import Interval

    run_outside_transaction(ADMIN_URL, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    run_outside_transaction(ADMIN_URL, f"CREATE DATABASE {DATABASE}")
    url = with_database(ADMIN_URL, DATABASE)
    migrate(url)
    engine = make_engine(url, pool_size=2)

    started = time.perf_counter()
    with engine.begin() as conn:
        ensure_partitions(conn, date(2024, 7, 1), date(2027, 6, 1))
        org = conn.execute(
            text(
                "INSERT INTO organizations (name, slug, base_currency, timezone) "
                "VALUES ('Bench', 'bench', 'USD', 'UTC') RETURNING id"
            )
        ).scalar_one()
        conn.execute(
            text(
                "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
                "SELECT :org, 'C' || g, 'Customer ' || g, 'lead' "
                "FROM generate_series(1, :n) AS g"
            ),
            {"org": org, "n": args.customers},
        )
        conn.execute(text(GENERATE), {"org": org, "logins": args.logins})
        events = conn.execute(
            text("SELECT count(*) FROM events WHERE org_id = :org"), {"org": org}
        ).scalar_one()
    run_outside_transaction(url, "VACUUM ANALYZE")
    print(
        f"generated {events:,} events of {args.customers:,} customers in "
        f"{time.perf_counter() - started:.1f} s"
    )

    with engine.begin() as conn:
        repository.pend_every_customer_with_events(conn, org)
        started = time.perf_counter()
        result = service.run_pending(conn, org)
        seconds = time.perf_counter() - started
    print(
        f"full rebuild: {result.customers:,} customers, {result.intervals:,} intervals in "
        f"{seconds:.1f} s = {events / seconds:,.0f} events/s"
    )
    run_outside_transaction(url, "VACUUM ANALYZE")

    with engine.begin() as conn:
        ids = [
            row.id
            for row in conn.execute(
                text("SELECT id FROM customers WHERE org_id = :org ORDER BY random() LIMIT 1000"),
                {"org": org},
            )
        ]
        # One ingest batch: a payment today for each of 1,000 customers. The hook the ingest
        # calls (mark the customers, queue a job), then the job's work.
        conn.execute(
            text(
                "INSERT INTO events (org_id, event_id, customer_id, type, occurred_at, properties) "
                "SELECT :org, gen_random_uuid(), id, 'payment_succeeded', now(), "
                "jsonb_build_object('payment_id', 'bench-' || id, 'amount', '29.00', "
                "'currency', 'USD') FROM unnest(CAST(:ids AS bigint[])) AS id"
            ),
            {"org": org, "ids": ids},
        )
        find_kind(service.JOB_KIND)  # the first look-up imports every job module, once a process
        hook_ms, _, _ = timed(1, lambda: service.stages_changed(conn, org, ids))
        started = time.perf_counter()
        result = service.run_pending(conn, org)
        print(
            f"ingest hook for 1,000 customers: {hook_ms:.0f} ms; the job's rebuild of them "
            f"({result.changed_customers} changed): {(time.perf_counter() - started) * 1000:.0f} ms"
        )
        repository.add_pending(conn, org, ids)
        started = time.perf_counter()
        result = service.run_pending(conn, org)
        print(
            f"rebuild of the same 1,000 with nothing changed: "
            f"{(time.perf_counter() - started) * 1000:.0f} ms"
        )
        started = time.perf_counter()
        service.recompute_rollups(conn, org)
        print(f"nightly full recomputation of the rollups: {time.perf_counter() - started:.1f} s")

    queries = {
        "stages as_of now": lambda s: service.stages_as_of(s, org, None),
        "stages as_of 2025-06-30": lambda s: service.stages_as_of(s, org, "2025-06-30"),
        "timeseries month, 24 months": lambda s: service.timeseries(
            s, org, Interval.month, date(2024, 7, 1), date(2026, 6, 30)
        ),
        "timeseries day, 365 days": lambda s: service.timeseries(
            s, org, Interval.day, date(2025, 7, 1), date(2026, 6, 30)
        ),
        "funnel 2 years": lambda s: service.funnel(
            s, org, date(2024, 7, 1), date(2026, 6, 30), None
        ),
        "funnel 90 days within 30": lambda s: service.funnel(
            s, org, date(2025, 4, 1), date(2025, 6, 29), 30
        ),
        "flows 2025-01-01 → 2026-01-01": lambda s: service.flows(
            s, org, "2025-01-01", "2026-01-01"
        ),
    }
    print(f"\n{args.runs} runs each; times in ms")
    print("| query | p50 | p95 |\n|---|---:|---:|")
    with Session(engine) as session:
        for name, query in queries.items():
            p50, p95, _ = timed(args.runs, lambda: query(session))
            print(f"| {name} | {p50:.1f} | {p95:.1f} |")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
