"""Prediction benchmark: train the next-month purchase model (the whole job: features of every
cutoff, model and baseline with out-of-fold thresholds, permutation importances, predictions
written) on a large generated organisation, then score every customer as of a day in memory and
one customer through the API's service (what GET /customers/{id}/prediction does).

    .venv/bin/python bench/prediction_bench.py [--customers 100000] [--transactions 10000000]
    .venv/bin/python bench/prediction_bench.py --demo   # the README's demo figures

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
or an embedded PostgreSQL when none answers; a database `spendlens_prediction_bench` is created
and dropped. `--demo` seeds the demo data as of 2026-06-30 (as the tests do) and trains both
targets for Acme Retail with the default training cutoffs.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.prediction import features, service  # noqa: E402
from spendlens.prediction.job import execute_training  # noqa: E402
from spendlens.prediction.schemas import TrainRequest  # noqa: E402

DATABASE = "spendlens_prediction_bench"
END = date(2026, 6, 30)
DAYS = 730
TODAY = date(2026, 12, 3)  # what "today" is for the request's validation


def create_database() -> str:
    import psycopg2

    from spendlens.cli import migrate
    from spendlens.local_db import with_database
    from spendlens.testing import test_server_url

    admin = test_server_url()
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        cur.execute(f"CREATE DATABASE {DATABASE}")
    conn.close()
    url = with_database(admin, DATABASE)
    migrate(url)
    return url


def drop_database() -> None:
    import psycopg2

    from spendlens.testing import test_server_url

    conn = psycopg2.connect(test_server_url())
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
    conn.close()


def generate(url: str, customers: int, transactions: int) -> int:
    """An organisation of customers with habits: a gamma purchase rate, a start day, and for
    about a third a last day after which they stop (buying less in their last 90 days); logins
    and feature use while active. Returns the organisation's id."""
    import psycopg2

    rng = np.random.default_rng(11)
    start = rng.integers(0, DAYS - 60, customers)
    stops = rng.random(customers) < 0.35
    last = np.where(stops, start + rng.integers(30, DAYS, customers), DAYS - 1)
    last = np.minimum(last, DAYS - 1)
    span = (last - start + 1).astype(float)
    rate = rng.gamma(1.4, 1.0, customers)
    rate *= transactions / float((rate * span).sum())
    count = np.maximum(rng.poisson(rate * span), 1)
    owner = np.repeat(np.arange(customers), count)
    day = start[owner] + (rng.random(owner.size) * span[owner]).astype(int)
    # Slowing down before stopping: half of a leaver's purchases in the last 90 days move back.
    fading = stops[owner] & (day > last[owner] - 90) & (rng.random(owner.size) < 0.5)
    day[fading] = start[owner][fading] + (
        rng.random(int(fading.sum())) * np.maximum(span[owner][fading] - 90, 1)
    ).astype(int)
    seconds = rng.integers(0, 86400, owner.size)
    amount = np.round(rng.lognormal(3.5, 0.7, owner.size), 2) + 0.01

    conn = psycopg2.connect(url)
    cur = conn.cursor()
    cur.execute(
        "INSERT INTO organizations (name, slug, base_currency, timezone) "
        "VALUES ('Prediction Bench', 'prediction-bench', 'USD', 'UTC') RETURNING id"
    )
    org_id = cur.fetchone()[0]
    cur.execute(
        "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
        "SELECT %s, 'P' || g, 'Customer ' || g, 'customer' FROM generate_series(1, %s) g "
        "ORDER BY g RETURNING id",
        (org_id, customers),
    )
    ids = np.array([r[0] for r in cur.fetchall()])
    first = np.datetime64(END - timedelta(days=DAYS - 1))
    stamps = first + day.astype("timedelta64[D]") + seconds.astype("timedelta64[s]")
    clock = time.perf_counter()
    _copy(
        cur,
        "transactions (org_id, customer_id, occurred_at, amount, currency, category, "
        "description, quantity, kind)",
        [
            np.full(owner.size, org_id).astype(str),
            ids[owner].astype(str),
            np.datetime_as_string(stamps, unit="s") + "Z",
            np.char.mod("%.2f", amount),
        ],
        ',USD,Groceries,"",1,purchase',
    )
    # Events: logins (a few a month while active) and feature use, after a login.
    logins = rng.poisson(span / 10)
    login_owner = np.repeat(np.arange(customers), logins)
    login_day = start[login_owner] + (rng.random(login_owner.size) * span[login_owner]).astype(int)
    kinds = np.where(rng.random(login_owner.size) < 0.3, "feature_used", "login")
    login_stamps = first + login_day.astype("timedelta64[D]") + np.timedelta64(9, "h")
    _copy(
        cur,
        "events (org_id, customer_id, occurred_at, type, event_id)",
        [
            np.full(login_owner.size, org_id).astype(str),
            ids[login_owner].astype(str),
            np.datetime_as_string(login_stamps, unit="s") + "Z",
            kinds,
            np.array([str(uuid.uuid4()) for _ in range(login_owner.size)]),
        ],
        "",
    )
    conn.commit()
    conn.autocommit = True
    cur.execute("VACUUM ANALYZE transactions")
    cur.execute("VACUUM ANALYZE events")
    conn.close()
    print(
        f"generated {customers:,} customers, {owner.size:,} purchases and "
        f"{login_owner.size:,} events in {time.perf_counter() - clock:.0f} s (loading)"
    )
    return org_id


def _copy(cur, into: str, columns: list[np.ndarray], tail: str, chunk: int = 1_000_000) -> None:
    rows = columns[0].size
    for lo in range(0, rows, chunk):
        parts = [c[lo : lo + chunk].astype(object) for c in columns]
        lines = parts[0]
        for part in parts[1:]:
            lines = lines + "," + part
        buffer = io.StringIO("\n".join(lines + tail) + "\n")
        cur.copy_expert(f"COPY {into} FROM STDIN WITH (FORMAT csv)", buffer)


def train(engine, org_id: int, body: TrainRequest) -> dict:
    from spendlens.db import session_factory
    from spendlens.jobs.runner import run_job
    from spendlens.models import Organization

    with session_factory(engine)() as session:
        org = session.get(Organization, org_id)
        model = service.train(session, org, None, body, today=TODAY)
        session.commit()
    clock = time.perf_counter()
    state = run_job(org_id, model.job_id, execute_training, engine=engine)
    seconds = time.perf_counter() - clock
    with session_factory(engine)() as session:
        found = service.get_model(session, org_id, model.id).model_dump(mode="json")
    print(f"\n{body.target.value}: job {state} in {seconds:.1f} s")
    return found


def report(model: dict) -> None:
    if model["state"] != "done":
        print(f"  failed: {model['error']}")
        return
    training, cutoffs = model["training"], model["training_window"]["train_cutoffs"]
    print(f"  training: {training['train_rows']:,} rows over {len(cutoffs)} cutoffs, test "
          f"{training['test_rows']:,} rows; seconds {training['seconds']}")  # fmt: skip
    print("  | | F1 | precision | recall | accuracy | ROC AUC | PR AUC | threshold |")
    print("  |---|---:|---:|---:|---:|---:|---:|---:|")
    for name in ("model", "baseline"):
        m = model["metrics"][name]
        print(
            f"  | {name} | {m['f1']:.3f} | {m['precision']:.3f} | {m['recall']:.3f} | "
            f"{m['accuracy']:.3f} | {m['roc_auc']:.3f} | {m['pr_auc']:.3f} | {m['threshold']} |"
        )
    print(
        f"  F1 of predicting yes for everyone: {model['metrics']['model']['f1_all_positive']:.3f}"
    )
    top = ", ".join(
        f"{i['feature']} {i['importance']:.4f}" for i in model["importances"]["model"][:5]
    )
    print(f"  top permutation importances (ROC AUC drop): {top}")


def demo() -> None:
    from spendlens.db import make_engine
    from spendlens.seed import seed_demo

    url = create_database()
    try:
        engine = make_engine(url, pool_size=2)
        seed_demo(engine, as_of=END)
        with engine.connect() as conn:
            org_id = conn.exec_driver_sql(
                "SELECT id FROM organizations WHERE slug = 'acme-retail'"
            ).scalar_one()
        for body in (
            TrainRequest(target="purchase_30d", test_cutoff=date(2026, 5, 31)),
            TrainRequest(target="churn_90d", test_cutoff=date(2026, 3, 31)),
        ):
            report(train(engine, org_id, body))
        engine.dispose()
    finally:
        drop_database()


def large(customers: int, transactions: int) -> None:
    from spendlens.db import make_engine, session_factory
    from spendlens.models import Organization
    from spendlens.tenancy import bind_org

    url = create_database()
    try:
        org_id = generate(url, customers, transactions)
        engine = make_engine(url, pool_size=2)
        model = train(
            engine,
            org_id,
            TrainRequest(target="purchase_30d", test_cutoff=END - timedelta(days=30)),
        )
        report(model)

        with engine.connect() as conn:
            clock = time.perf_counter()
            activity = features.load_activity(conn, org_id, "USD", until=END)
            loaded = time.perf_counter() - clock
        clock = time.perf_counter()
        frame = features.frame_at(activity, features.Target.purchase_30d, END, labels=False)
        built = time.perf_counter() - clock
        with session_factory(engine)() as session:
            from spendlens.models import PredictionModel

            row = session.get(PredictionModel, (org_id, model["id"]))
            estimator = service.load_estimator(session, row)
            clock = time.perf_counter()
            estimator.predict_proba(frame.features)
            scored = time.perf_counter() - clock
            org = session.get(Organization, org_id)
            bind_org(session, org_id)
            someone = int(frame.customer_id[0])
            clock = time.perf_counter()
            for _ in range(5):
                service.customer_prediction(session, org, someone, today=END)
            one = (time.perf_counter() - clock) / 5
        print(
            f"\nscoring every customer as of {END}: load {loaded:.1f} s, features of "
            f"{len(frame):,} customers {built:.2f} s, predict {scored:.2f} s; one customer "
            f"through the service (GET /customers/{{id}}/prediction): {one * 1000:.0f} ms"
        )
        engine.dispose()
    finally:
        drop_database()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--transactions", type=int, default=10_000_000)
    parser.add_argument("--demo", action="store_true", help="train on the seeded demo data")
    args = parser.parse_args()
    if args.demo:
        demo()
    else:
        large(args.customers, args.transactions)


if __name__ == "__main__":
    main()
