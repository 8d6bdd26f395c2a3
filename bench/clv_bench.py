"""CLV benchmark: fit the BG/NBD and Gamma-Gamma models to 100,000 customers simulated from them
(FHL's CDNOW estimates, weeks) and score them all, in memory; then, with --end-to-end, the whole
fit job on a database holding the same kind of customers as transactions.

    .venv/bin/python bench/clv_bench.py [--customers 100000] [--repeats 3] [--end-to-end]

In memory there is no database. End to end, the database server is TEST_DATABASE_URL (default
postgresql://postgres@127.0.0.1:5432/postgres), or an embedded PostgreSQL when none answers; a
database `spendlens_clv_bench` is created and dropped.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.clv import model, service  # noqa: E402
from spendlens.clv.job import execute_fit  # noqa: E402
from spendlens.clv.scoring import fit_models, score  # noqa: E402

CDNOW = model.BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
CDNOW_SPEND = model.GammaGammaParams(p=6.25, q=3.74, v=15.44)
CALIBRATION_WEEKS = 78
ACQUISITION_WEEKS = 12
HOLDOUT_WEEKS = 39
START = date(2024, 1, 1)


def timed(work, repeats: int) -> tuple[float, object]:
    """Median seconds of `repeats` runs, and the last result."""
    seconds, result = [], None
    for _ in range(repeats):
        clock = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - clock)
    return statistics.median(seconds), result


def in_memory(customers: int, repeats: int) -> None:
    rng = np.random.default_rng(2005)
    age = CALIBRATION_WEEKS - rng.uniform(0, ACQUISITION_WEEKS, customers)
    data = model.simulate_bgnbd(CDNOW, age, rng, holdout=HOLDOUT_WEEKS)
    monetary = model.simulate_gamma_gamma(CDNOW_SPEND, data.frequency, rng)
    x, t_x, T = data.frequency, data.recency, data.age
    print(f"{customers:,} simulated customers, {int((x > 0).sum()):,} repeat buyers\n")

    fit_seconds, models = timed(lambda: fit_models(x, t_x, T, monetary), repeats)
    bg_seconds, _ = timed(lambda: model.fit_bgnbd(x, t_x, T), repeats)
    repeat = x > 0
    gg_seconds, _ = timed(lambda: model.fit_gamma_gamma(x[repeat], monetary[repeat]), repeats)

    def scoring(rate: float):
        return score(
            models, x, t_x, T, monetary,
            purchases_horizon_days=90, clv_horizon_days=365, monthly_discount_rate=rate,
        )  # fmt: skip

    score_seconds, _ = timed(lambda: scoring(0.0), repeats)
    discounted_seconds, _ = timed(lambda: scoring(0.01), repeats)
    print(f"median of {repeats}; seconds")
    print("| step | seconds |\n|---|---:|")
    print(f"| BG/NBD fit | {bg_seconds:.2f} |")
    print(f"| Gamma-Gamma fit ({int(repeat.sum()):,} repeat buyers) | {gg_seconds:.2f} |")
    print(f"| both fits (`clv.scoring.fit_models`) | {fit_seconds:.2f} |")
    print(f"| scoring: E[Y(90 d)], P(alive), E[M], CLV 365 d undiscounted | {score_seconds:.2f} |")
    print(f"| scoring with 12 monthly discounted periods | {discounted_seconds:.2f} |")

    print(
        "\n| parameter | true | estimate | std. error | relative error |\n|---|---:|---:|---:|---:|"
    )
    for truth, fit in ((CDNOW, models.bgnbd), (CDNOW_SPEND, models.gamma_gamma)):
        for name, true_value in vars(truth).items():
            value = getattr(fit.params, name)
            se = fit.report.standard_errors[name]
            print(
                f"| {name} | {true_value} | {value:.4f} | {se:.4f} | "
                f"{(value - true_value) / true_value:+.2%} |"
            )
    print(f"\nconverged: {models.converged}; log-likelihoods: BG/NBD "
          f"{models.bgnbd.report.log_likelihood:,.1f}, Gamma-Gamma "
          f"{models.gamma_gamma.report.log_likelihood:,.1f}")  # fmt: skip
    predicted = model.conditional_expected_purchases(models.bgnbd.params, HOLDOUT_WEEKS, x, t_x, T)
    evaluation = model.evaluate_holdout(predicted, data.holdout_frequency, x)
    print(
        f"holdout ({HOLDOUT_WEEKS} weeks): MAE {evaluation['mae']:.3f}, correlation "
        f"{evaluation['correlation']:.3f}, aggregate error {evaluation['aggregate_error']:+.2%}"
    )


# --- end to end -----------------------------------------------------------------------------------


def purchase_days(customers: int, rng: np.random.Generator) -> list[list[int]]:
    """Each customer's purchase days (from START): a first purchase in the acquisition weeks,
    then BG/NBD repeat purchases in continuous time, up to the end of the holdout."""
    end_day = (CALIBRATION_WEEKS + HOLDOUT_WEEKS) * 7
    first = rng.integers(0, ACQUISITION_WEEKS * 7, customers)
    rate = rng.gamma(CDNOW.r, 1 / CDNOW.alpha, customers) / 7  # per day
    lifetime = rng.geometric(np.clip(rng.beta(CDNOW.a, CDNOW.b, customers), 1e-12, 1))
    span = end_day - first
    arrivals = rng.poisson(rate * span)
    made = np.minimum(arrivals, lifetime)
    days = []
    for i in range(customers):
        times = np.sort(rng.uniform(0, span[i], arrivals[i]))[: made[i]]
        days.append([int(first[i]), *(int(first[i] + t) for t in times)])
    return days


def end_to_end(customers: int) -> None:
    import psycopg2

    from spendlens.cli import migrate
    from spendlens.clv.schemas import ClvFitCreate
    from spendlens.db import make_engine, session_factory
    from spendlens.jobs.runner import run_job
    from spendlens.local_db import with_database
    from spendlens.models import Organization
    from spendlens.testing import test_server_url

    admin = test_server_url()
    conn = psycopg2.connect(admin)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP DATABASE IF EXISTS spendlens_clv_bench WITH (FORCE)")
        cur.execute("CREATE DATABASE spendlens_clv_bench")
    conn.close()
    url = with_database(admin, "spendlens_clv_bench")
    try:
        migrate(url)
        rng = np.random.default_rng(78)
        days = purchase_days(customers, rng)
        spend = rng.gamma(CDNOW_SPEND.q, 1 / CDNOW_SPEND.v, customers)
        load = psycopg2.connect(url)
        cur = load.cursor()
        cur.execute(
            "INSERT INTO organizations (name, slug, base_currency, timezone) "
            "VALUES ('CLV Bench', 'clv-bench', 'USD', 'UTC') RETURNING id"
        )
        org_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO customers (org_id, external_id, name, lifecycle_stage) "
            "SELECT %s, 'B' || g, 'Customer ' || g, 'customer' FROM generate_series(1, %s) g "
            "ORDER BY g RETURNING id",
            (org_id, customers),
        )
        ids = [r[0] for r in cur.fetchall()]
        buffer = io.StringIO()
        count = 0
        for i, customer_days in enumerate(days):
            amounts = rng.gamma(CDNOW_SPEND.p, 1 / spend[i], len(customer_days))
            for day, amount in zip(customer_days, amounts):
                when = START + timedelta(days=day)
                buffer.write(
                    f"{org_id},{ids[i]},{when}T12:00:00Z,{max(amount, 0.01):.2f},USD,Music,"
                    f'"",1,purchase\n'
                )
                count += 1
        buffer.seek(0)
        clock = time.perf_counter()
        cur.copy_expert(
            "COPY transactions (org_id, customer_id, occurred_at, amount, currency, category, "
            "description, quantity, kind) FROM STDIN WITH (FORMAT csv)",
            buffer,
        )
        load.commit()
        load.autocommit = True
        cur.execute("VACUUM ANALYZE transactions")
        load.close()
        print(f"\nloaded {count:,} purchases of {customers:,} customers in "
              f"{time.perf_counter() - clock:.1f} s")  # fmt: skip

        engine = make_engine(url, pool_size=2)
        calibration_end = START + timedelta(weeks=CALIBRATION_WEEKS, days=-1)
        body = ClvFitCreate(
            calibration_start=START,
            calibration_end=calibration_end,
            holdout_end=calibration_end + timedelta(weeks=HOLDOUT_WEEKS),
        )
        with session_factory(engine)() as session:
            org = session.get(Organization, org_id)
            fit = service.create_fit(session, org, None, body)
            session.commit()
        clock = time.perf_counter()
        state = run_job(org_id, fit.job_id, execute_fit, engine=engine)
        seconds = time.perf_counter() - clock
        with session_factory(engine)() as session:
            result = service.get_fit(session, org_id, fit.id)
        engine.dispose()
        job_phases = ""
        with psycopg2.connect(url) as check, check.cursor() as cur:
            cur.execute("SELECT result FROM jobs WHERE id = %s", (fit.job_id,))
            job_phases = cur.fetchone()[0]["seconds"]
        print(f"fit job: {state} in {seconds:.1f} s; phases (s): {job_phases}")
        print(
            f"customers fitted {result.customers:,} ({result.repeat_buyers:,} repeat buyers), "
            f"scored {result.scored_customers:,}; r={result.bgnbd.r:.3f} "
            f"alpha={result.bgnbd.alpha:.3f} a={result.bgnbd.a:.3f} b={result.bgnbd.b:.3f}; "
            f"holdout MAE {result.evaluation.mae:.3f}, correlation "
            f"{result.evaluation.correlation:.3f}, aggregate error "
            f"{result.evaluation.aggregate_error:+.2%}"
        )
    finally:
        conn = psycopg2.connect(admin)
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("DROP DATABASE IF EXISTS spendlens_clv_bench WITH (FORCE)")
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--end-to-end", action="store_true", help="also run the fit job on a DB")
    args = parser.parse_args()
    in_memory(args.customers, args.repeats)
    if args.end_to_end:
        end_to_end(args.customers)
    print(f"\nPython {sys.version.split()[0]}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
