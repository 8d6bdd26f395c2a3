"""Health benchmark: one `health` recompute of an organisation with 100,000 generated customers,
their transactions and their events, as the job runs it (one INSERT … SELECT).

    .venv/bin/python bench/health_bench.py [--customers 100000] [--transactions 2000000]
                                           [--events 2000000] [--repeats 3]

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
or an embedded PostgreSQL when none answers; a database `spendlens_health_bench` is created and
dropped. Data is generated inside PostgreSQL (generate_series): transactions spread at random over
the two years up to the day, events over the year up to it (70% logins, 20% feature use, 3%
tickets opened, 3% closed, 2% failed and 2% succeeded payments).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.health.service import recompute  # noqa: E402

AS_OF = date(2026, 6, 30)
DATABASE = "spendlens_health_bench"


def generate(cur, org_id: int, customers: int, transactions: int, events: int) -> int:
    cur.execute(
        "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
        "SELECT %s, 'H' || g, 'Customer ' || g, 'customer' FROM generate_series(1, %s) g "
        "ORDER BY g RETURNING id",
        (org_id, customers),
    )
    first = min(row[0] for row in cur.fetchall())
    cur.execute(
        """
        INSERT INTO transactions (org_id, customer_id, occurred_at, amount, currency, category,
            description, quantity, kind)
        SELECT %(org)s, %(first)s + floor(random() * %(n)s)::bigint,
            TIMESTAMPTZ '2026-07-01 00:00+00' - random() * INTERVAL '730 days',
            CASE WHEN g %% 100 = 0 THEN -round((1 + random() * 20)::numeric, 2)
                 ELSE round((5 + random() * 120)::numeric, 2) END,
            'USD', 'Books', '', 1,
            CASE WHEN g %% 100 = 0 THEN 'refund' ELSE 'purchase' END
        FROM generate_series(1, %(count)s) g
        """,
        {"org": org_id, "first": first, "n": customers, "count": transactions},
    )
    cur.execute(
        """
        INSERT INTO events (org_id, event_id, customer_id, type, occurred_at, properties)
        SELECT %(org)s, gen_random_uuid(), %(first)s + (g::bigint * 7919) %% %(n)s, kind,
            TIMESTAMPTZ '2026-07-01 00:00+00' - random() * INTERVAL '365 days',
            CASE kind
                WHEN 'feature_used' THEN jsonb_build_object('feature', 'f' || g %% 8)
                WHEN 'login' THEN '{}'::jsonb
                WHEN 'payment_failed' THEN '{"amount": "9.00", "currency": "USD"}'::jsonb
                WHEN 'payment_succeeded'
                    THEN jsonb_build_object('payment_id', 'P' || g, 'amount', '9.00',
                                            'currency', 'USD')
                ELSE jsonb_build_object('ticket_id', 'T' || g %% 40000)
            END
        FROM (
            SELECT g, CASE
                WHEN g %% 100 < 70 THEN 'login'
                WHEN g %% 100 < 90 THEN 'feature_used'
                WHEN g %% 100 < 93 THEN 'support_ticket_opened'
                WHEN g %% 100 < 96 THEN 'support_ticket_closed'
                WHEN g %% 100 < 98 THEN 'payment_failed'
                ELSE 'payment_succeeded' END AS kind
            FROM generate_series(1, %(count)s) g
        ) e
        """,
        {"org": org_id, "first": first, "n": customers, "count": events},
    )
    return first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=2_000_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import psycopg2

    from spendlens.cli import migrate
    from spendlens.db import make_engine
    from spendlens.local_db import with_database
    from spendlens.tenancy import set_org
    from spendlens.testing import test_server_url

    admin = test_server_url()
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
    url = with_database(admin, DATABASE)
    try:
        migrate(url)
        load = psycopg2.connect(url)
        cur = load.cursor()
        cur.execute(
            "INSERT INTO organizations (name, slug, base_currency, timezone) "
            "VALUES ('Health Bench', 'health-bench', 'USD', 'UTC') RETURNING id"
        )
        org_id = cur.fetchone()[0]
        clock = time.perf_counter()
        generate(cur, org_id, args.customers, args.transactions, args.events)
        load.commit()
        load.autocommit = True
        cur.execute("VACUUM ANALYZE")
        load.close()
        print(
            f"generated {args.customers:,} customers, {args.transactions:,} transactions and "
            f"{args.events:,} events in {time.perf_counter() - clock:.1f} s"
        )
        engine = make_engine(url, pool_size=2)
        seconds = []
        result = {}
        for _ in range(args.repeats):
            clock = time.perf_counter()
            with engine.begin() as connection:
                set_org(connection, org_id)
                result = recompute(connection, org_id, AS_OF)
            seconds.append(time.perf_counter() - clock)
        engine.dispose()
        print(
            f"health recompute as of {AS_OF}: median {statistics.median(seconds):.2f} s of "
            f"{args.repeats} (each: {', '.join(f'{s:.2f}' for s in seconds)}; the first stores "
            f"the day, the others replace it); scored {result['customers']:,}, unscored "
            f"{result['unscored']:,}"
        )
    finally:
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.close()
    print(f"Python {sys.version.split()[0]}")


if __name__ == "__main__":
    main()
