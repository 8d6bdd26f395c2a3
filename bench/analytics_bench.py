"""Customer analytics benchmark: generate N customers and M transactions with SQL, then time the
RFM recompute (the job's own service function, storing the snapshot) and the cohort matrix.

    .venv/bin/python bench/analytics_bench.py [--customers 100000] \\
        [--transactions 10000000] [--runs 3] [--explain] [--keep]

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
or an embedded PostgreSQL when none answers. A database `spendlens_analytics_bench` is created,
migrated, filled and dropped at the end (unless --keep).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.testing import test_server_url  # noqa: E402

DATABASE = "spendlens_analytics_bench"
SPAN_DAYS = 3 * 365
CATEGORIES = [
    "Groceries", "Electronics", "Apparel", "Home & Garden", "Health & Beauty", "Sports & Outdoors",
    "Toys & Games", "Books & Media", "Restaurants", "Travel", "Entertainment", "Services",
]  # fmt: skip

# Each customer: a first day within the span, an active stretch after it (then they churn), and a
# heavy-tailed share of the purchases (weight = u³: most buy a few times, a few buy hundreds).
# 5% never buy. 1% of rows are refunds, 1% are in another currency. Rows are stored in time order,
# as a table fed by imports over the years would be: each customer's rows are spread over the table.
GENERATE_SQL = """
SELECT setseed(0.42);
CREATE TEMPORARY TABLE bench_profile AS
SELECT id,
       floor(random() * %(span)s)::int AS first_day,
       (30 + floor(random() * %(span)s))::int AS active_days,
       CASE WHEN random() < 0.05 THEN 0 ELSE power(random(), 3) END AS weight
FROM customers WHERE org_id = %(org_id)s ORDER BY id;
CREATE TEMPORARY TABLE bench_counts AS
SELECT id, first_day, active_days,
       CASE WHEN weight = 0 THEN 0
            ELSE 1 + ceil(weight / (SELECT sum(weight) FROM bench_profile)
                          * (%(transactions)s - (SELECT count(*) FROM bench_profile
                                                 WHERE weight > 0)))::int
       END AS purchases
FROM bench_profile;
INSERT INTO transactions (org_id, customer_id, occurred_at, amount, currency, category,
                          description, quantity, kind)
SELECT %(org_id)s, customer_id, occurred_at,
       CASE WHEN refund THEN -amount ELSE amount END,
       CASE WHEN random() < 0.01 THEN 'EUR' ELSE 'USD' END,
       (%(categories)s::text[])[1 + floor(random() * 12)::int],
       'bench purchase', 1,
       CASE WHEN refund THEN 'refund' ELSE 'purchase' END
FROM (
    SELECT c.id AS customer_id,
           %(start)s::timestamptz + make_interval(days => c.first_day)
             + random() * make_interval(days => least(c.active_days, %(span)s - c.first_day)) AS
             occurred_at,
           greatest(0.01, round(exp(3.7 + 0.9 * sqrt(-2 * ln(1 - random()))
                                    * cos(2 * pi() * random()))::numeric, 2)) AS amount,
           random() < 0.01 AS refund
    FROM bench_counts c CROSS JOIN LATERAL generate_series(1, c.purchases)
    LIMIT %(transactions)s
) rows
ORDER BY occurred_at;
"""


def admin_connection(url: str):
    conn = psycopg2.connect(url)
    conn.autocommit = True
    return conn


def run_outside_transaction(url: str, statement: str) -> None:
    conn = admin_connection(url)
    try:
        conn.cursor().execute(statement)
    finally:
        conn.close()


def prepare(admin_url: str, customers: int, transactions: int, as_of: date) -> tuple[str, int]:
    from spendlens.cli import migrate
    from spendlens.local_db import with_database

    run_outside_transaction(admin_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    run_outside_transaction(admin_url, f"CREATE DATABASE {DATABASE}")
    url = with_database(admin_url, DATABASE)
    migrate(url)

    conn = admin_connection(url)
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO organizations (name, slug, base_currency, timezone) "
        "VALUES ('Bench Org', 'bench', 'USD', 'UTC') RETURNING id"
    )
    org_id = cur.fetchone()[0]
    started = time.perf_counter()
    cur.execute(
        "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
        "SELECT %s, 'B' || g, 'Customer ' || g, 'customer' FROM generate_series(1, %s) g",
        (org_id, customers),
    )
    # Loading is faster without the secondary indexes and the foreign-key triggers; the indexes
    # are rebuilt from their own definitions afterwards, so the schema is exactly the migrated one.
    cur.execute(
        "SELECT indexname, indexdef FROM pg_indexes "
        "WHERE tablename = 'transactions' AND indexname LIKE 'ix\\_%%'"
    )
    indexes = cur.fetchall()
    for name, _ in indexes:
        cur.execute(f"DROP INDEX {name}")
    try:
        cur.execute("SET session_replication_role = replica")  # needs a superuser
    except psycopg2.Error:
        print("(not a superuser: loading with foreign-key checks)")
    cur.execute("SET work_mem = '256MB'")
    cur.execute("SET maintenance_work_mem = '1GB'")
    cur.execute(
        GENERATE_SQL,
        {
            "org_id": org_id,
            "span": SPAN_DAYS,
            "transactions": transactions,
            "start": datetime.combine(
                as_of - timedelta(days=SPAN_DAYS - 1), datetime.min.time(), UTC
            ),
            "categories": CATEGORIES,
        },
    )
    loaded = time.perf_counter() - started
    for _, definition in indexes:
        cur.execute(definition)
    cur.execute("RESET session_replication_role")
    cur.execute("VACUUM ANALYZE")
    total = time.perf_counter() - started
    cur.execute("SELECT count(*), count(DISTINCT customer_id) FROM transactions")
    rows, buyers = cur.fetchone()
    print(
        f"generated {rows:,} transactions of {buyers:,} buying customers ({customers:,} in all) "
        f"in {loaded:.0f} s, indexes and VACUUM ANALYZE {total - loaded:.0f} s"
    )
    cur.execute(
        "SELECT relname, pg_size_pretty(pg_relation_size(oid)) FROM pg_class "
        "WHERE relname IN ('transactions', 'ix_transactions_org_occurred')"
    )
    print("sizes: " + ", ".join(f"{name} {size}" for name, size in cur.fetchall()))
    conn.close()
    return url, org_id


def timed(runs: int, work) -> tuple[list[float], object]:
    samples, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        samples.append(time.perf_counter() - started)
    return samples, result


def explain(url: str, org_id: int, as_of: date) -> None:
    """The plans of the two heavy statements, with actual times."""
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from spendlens.cohorts import repository as cohorts_repository
    from spendlens.cohorts.schemas import CohortPeriod
    from spendlens.cohorts.service import add_periods, period_start
    from spendlens.db import make_engine
    from spendlens.segments import repository
    from spendlens.transactions.filters import day_start

    engine = make_engine(url, pool_size=1)
    with engine.connect() as conn:
        with conn.begin() as transaction:
            repository.set_aggregate_work_mem(conn)
            aggregates = repository.customer_aggregates(org_id, "USD", as_of).compile(conn)
            statement = f"CREATE TEMPORARY TABLE bench_aggregates AS {aggregates}"
            plan = conn.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS) {statement}", aggregates.params
            ).scalars()
            print("\nRFM aggregate:\n" + "\n".join(plan))
            transaction.rollback()
        with Session(conn) as session, session.begin():
            cohorts_repository.prepare_session(session)
            first = add_periods(period_start(as_of, CohortPeriod.month), CohortPeriod.month, -11)
            bounds = [day_start(add_periods(first, CohortPeriod.month, k)) for k in range(12)]
            bounds.append(day_start(as_of + timedelta(days=1)))
            statement, params = cohorts_repository.matrix_statement(
                org_id, "USD", bounds=bounds, cohort_count=12
            )
            plan = session.execute(
                text(f"EXPLAIN (ANALYZE, BUFFERS) {statement.text}"), params
            ).scalars()
            print("\nCohort matrix (12 months):\n" + "\n".join(plan))
            session.rollback()
    engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--explain", action="store_true", help="print the plans (EXPLAIN ANALYZE)")
    parser.add_argument("--keep", action="store_true", help=f"keep the {DATABASE} database")
    args = parser.parse_args()

    os.environ.setdefault("SPENDLENS_ENV", "local")
    as_of = datetime.now(UTC).date() - timedelta(days=1)
    admin_url = test_server_url()
    print(
        f"Generating {args.customers:,} customers and {args.transactions:,} transactions "
        f"over {SPAN_DAYS} days up to {as_of} ...",
        flush=True,
    )
    url, org_id = prepare(admin_url, args.customers, args.transactions, as_of)
    try:
        from sqlalchemy.orm import Session

        from spendlens.cohorts.schemas import CohortMetric
        from spendlens.cohorts.service import cohort_matrix
        from spendlens.db import make_engine
        from spendlens.models import Organization
        from spendlens.segments.service import recompute

        engine = make_engine(url, pool_size=1)

        def rfm(day: date) -> dict:
            with engine.begin() as conn:
                return recompute(conn, org_id, day)

        # New days' snapshots (what the daily job does), then the same day again and again (what
        # a recompute after an import does: that day's snapshot is replaced).
        days = iter(as_of - timedelta(days=k) for k in range(1, args.runs + 2))
        cold, _ = timed(1, lambda: rfm(next(days)))
        new_days, _ = timed(args.runs, lambda: rfm(next(days)))
        replaced, result = timed(args.runs, lambda: rfm(as_of))
        print(f"\nRFM recompute ({result['customers']:,} customers scored and stored)")
        print(f"  first run {cold[0]:.2f} s")
        for label, samples in (("a new day", new_days), ("replacing a stored day", replaced)):
            print(
                f"  {label}: median of {args.runs} {statistics.median(samples):.2f} s ("
                + ", ".join(f"{s:.2f}" for s in samples)
                + ")"
            )

        for label, start in (
            ("12 months (default)", None),
            ("36 months", as_of - timedelta(days=SPAN_DAYS - 1)),
        ):
            for metric in CohortMetric:

                def cohorts() -> object:
                    with Session(engine) as session, session.begin():
                        org = session.get(Organization, org_id)
                        return cohort_matrix(session, org, metric=metric, start=start, as_of=as_of)

                samples, matrix = timed(args.runs, cohorts)
                print(
                    f"cohort matrix, month, {label}, metric={metric.value}: "
                    f"{len(matrix.cohorts)} cohorts, median of {args.runs} "
                    f"{statistics.median(samples):.2f} s ("
                    + ", ".join(f"{s:.2f}" for s in samples)
                    + ")"
                )
        engine.dispose()
        if args.explain:
            explain(url, org_id, as_of)
        print(f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores.")
    finally:
        if not args.keep:
            run_outside_transaction(admin_url, f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
