"""Import benchmark: generate an N-row Online Retail file (with that format's quirks) and a native
CSV, import each through the HTTP API (uvicorn and a `spendlens worker` in subprocesses), time
upload → job done, then import the same file again (nothing is added) and time that too.

    .venv/bin/python bench/import_bench.py [--rows 1000000] [--formats online-retail native-csv]

The database server is TEST_DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/postgres),
or an embedded PostgreSQL when none answers. A database `spendlens_import_bench` is created and
dropped.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import psycopg2

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "backend"))

from spendlens.testing import free_port, test_server_url  # noqa: E402

BENCH_EMAIL = "import-bench@bench.example"
BENCH_PASSWORD = "bench-password"
DATABASE = "spendlens_import_bench"
COUNTRIES = (
    ["United Kingdom"] * 30
    + ["Germany", "France", "EIRE", "Spain", "Netherlands", "Belgium", "Switzerland", "Portugal"]
    + ["Australia", "Norway", "Italy", "Channel Islands", "Finland", "Cyprus", "Sweden", "Austria"]
    + ["Denmark", "Japan", "Poland", "USA", "Hong Kong", "Singapore", "Iceland", "Canada", "RSA"]
    + ["Unspecified", "European Community", "Lebanon", "Brazil", "Czech Republic", "Greece"]
)
WORDS = (
    "WHITE RED PINK BLUE VINTAGE RETROSPOT HEART LANTERN MUG COSY BAG JUMBO SET BOX CAKE CASES "
    "CHRISTMAS PAPER CHAIN KIT GLASS HOLDER T-LIGHT WOODEN FRAME SIGN CERAMIC TEA SPOTTY GARDEN "
    "SMALL LARGE ASSORTED COLOUR BIRD ORNAMENT HOT WATER BOTTLE ALARM CLOCK BAKELIKE DOORMAT"
).split()


def _products(rng: random.Random) -> list[tuple[str, str, str]]:
    """(stock code, description, price) for ~4,000 products, a few with the format's oddities."""
    products = []
    for n in range(4000):
        code = f"{20000 + n}" + ("" if n % 5 else rng.choice("ABCDEFGHKL"))
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
        if n % 97 == 0:
            words = f'{words}, SET OF {rng.randint(2, 12)} "{rng.choice(WORDS)}"'  # comma, quotes
        if n % 13 == 0:
            words += " "  # trailing space, as in the original data
        cents = rng.choice([0.29, 0.42, 0.55, 0.85, 1.25, 1.65, 2.08, 2.55, 3.39, 4.95, 7.65])
        price = f"{cents * rng.randint(1, 4):.2f}"
        if n % 211 == 0:
            price = f"{rng.randint(1, 99) / 1000:.3f}"  # three decimals
        products.append((code, words, price.rstrip("0").rstrip(".") if n % 3 == 0 else price))
    return products


def write_online_retail(path: Path, rows: int, seed: int = 7) -> None:
    """Invoices of ~20 lines: returns (C invoices, negative quantities), lines without
    CustomerID, M/D/YYYY H:MM dates, POST/M/D lines, zero prices, repeated products."""
    rng = random.Random(seed)
    products = _products(rng)
    customers = [str(12346 + n) for n in range(4300)]
    start = datetime(2010, 12, 1, 8, 0)
    span = 373 * 24 * 60  # minutes in the data's year
    with open(path, "w", newline="", encoding="utf-8") as out:
        out.write(
            "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
        )
        written, invoice = 0, 536365
        while written < rows:
            invoice += 1
            lines = min(rows - written, max(1, int(rng.expovariate(1 / 20))))
            when = start + timedelta(minutes=int(span * written / rows))
            date = f"{when.month}/{when.day}/{when.year} {when.hour}:{when.minute:02d}"
            cancelled = rng.random() < 0.02
            anonymous = rng.random() < 0.2
            customer = "" if anonymous else rng.choice(customers)
            if customer and rng.random() < 0.05:
                customer += ".0"  # the number went through a spreadsheet
            country = rng.choice(COUNTRIES)
            number = f"C{invoice}" if cancelled else str(invoice)
            picks = [rng.choice(products) for _ in range(lines)]
            if lines > 3 and rng.random() < 0.3:
                picks[-1] = picks[0]  # the same product twice on one invoice
            if rng.random() < 0.05:
                picks[-1] = ("POST", "POSTAGE", "18")
            elif rng.random() < 0.01:
                picks[-1] = ("M", "Manual", f"{rng.randint(1, 500)}.00")
            for code, description, price in picks:
                quantity = rng.choice([1, 1, 2, 3, 4, 6, 12, 12, 24, 48])
                if cancelled:
                    quantity = -quantity
                if rng.random() < 0.002:
                    price = "0"
                if "," in description or '"' in description:
                    description = '"' + description.replace('"', '""') + '"'
                fields = (number, code, description, quantity, date, price, customer, country)
                out.write(",".join(map(str, fields)) + "\n")
            written += lines


def write_native(path: Path, rows: int, seed: int = 11) -> None:
    """The layout of GET /transactions/export.csv (external ids on every row)."""
    rng = random.Random(seed)
    merchants = [f"Merchant {n}" for n in range(60)]
    categories = ["Groceries", "Electronics", "Apparel", "Travel", "Restaurants", "Services"]
    start = datetime(2025, 1, 1)
    with open(path, "w", newline="", encoding="utf-8") as out:
        out.write(
            "id,occurred_at,customer_id,customer_name,customer_external_id,merchant,category,"
            "description,quantity,kind,amount,currency,external_id\n"
        )
        for i in range(rows):
            customer = rng.randrange(13000)
            cents = max(1, int(rng.lognormvariate(3.7, 0.9) * 100))
            refund = i % 100 == 99
            when = start + timedelta(seconds=int(i * 31_000_000 / rows))
            out.write(
                f"{i + 1},{when.isoformat()}+00:00,{customer},Customer {customer},N{customer},"
                f"{rng.choice(merchants)},{rng.choice(categories)},bench item {i % 997},"
                f"{1 + i % 3},{'refund' if refund else 'purchase'},"
                f"{'-' if refund else ''}{cents // 100}.{cents % 100:02d},GBP,NT{i:08d}\n"
            )


def prepare(admin_url: str) -> str:
    from spendlens.auth.security import hash_password
    from spendlens.cli import migrate
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
    with conn, conn.cursor() as cur:
        cur.execute(
            "INSERT INTO organizations (name, slug, base_currency, timezone) "
            "VALUES ('Bench Shop', 'bench', 'GBP', 'Europe/London') RETURNING id"
        )
        org_id = cur.fetchone()[0]
        cur.execute(
            "INSERT INTO users (org_id, email, full_name, password_hash, role, is_active, "
            "token_version) VALUES (%s, %s, 'Bench', %s, 'analyst', true, 1)",
            (org_id, BENCH_EMAIL, hash_password(BENCH_PASSWORD)),
        )
    conn.close()
    return url


def timed_import(client: httpx.Client, path: Path, fmt: str) -> dict:
    """Upload `path`, wait for its job; seconds from the first byte sent to the job's end."""
    started = time.perf_counter()
    with open(path, "rb") as f:
        response = client.post(
            "/api/v1/imports", files={"file": (path.name, f, "text/csv")}, data={"format": fmt}
        )
    response.raise_for_status()
    uploaded = time.perf_counter()
    job_id = response.json()["id"]
    while True:
        job = client.get(f"/api/v1/jobs/{job_id}").json()
        if job["state"] in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    done = time.perf_counter()
    if job["state"] != "succeeded":
        raise RuntimeError(f"import failed: {job['result']}")
    return {
        "rows": job["total"],
        "upload_s": uploaded - started,
        "job_s": done - uploaded,
        "total_s": done - started,
        "rows_per_s": job["total"] / (done - started),
        "result": job["result"],
    }


def wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.time() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.time() > deadline or server.poll() is not None:
            raise RuntimeError("API did not start")
        time.sleep(0.2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--formats", nargs="+", default=["online-retail", "native-csv"],
        choices=["online-retail", "native-csv"],
    )  # fmt: skip
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args()

    os.environ.setdefault("SPENDLENS_ENV", "local")
    work = Path(tempfile.mkdtemp(prefix="spendlens-import-bench-"))
    files = {}
    for fmt in args.formats:
        path = work / f"{fmt}-{args.rows}.csv"
        started = time.perf_counter()
        (write_online_retail if fmt == "online-retail" else write_native)(path, args.rows)
        files[fmt] = path
        size = path.stat().st_size / 1e6
        print(f"generated {path.name}: {size:.0f} MB in {time.perf_counter() - started:.1f} s")

    admin_url = test_server_url()
    url = prepare(admin_url)
    port = free_port()
    env = dict(
        os.environ,
        SPENDLENS_DATABASE_URL=url,
        SPENDLENS_LOG_LEVEL="WARNING",
        SPENDLENS_MAX_UPLOAD_BYTES=str(2 << 30),
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "spendlens.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
         "--no-access-log"],
        env=env, cwd=ROOT,
    )  # fmt: skip
    worker = subprocess.Popen([sys.executable, "-m", "spendlens.cli", "worker"], env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    results = []
    try:
        wait_ready(base, server)
        token = httpx.post(
            f"{base}/api/v1/auth/login",
            data={"username": BENCH_EMAIL, "password": BENCH_PASSWORD},
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as client:
            for fmt, path in files.items():
                for label in ("first import", "re-import"):
                    print(f"{fmt}: {label} ...", flush=True)
                    outcome = timed_import(client, path, fmt)
                    results.append((fmt, label, outcome))
                    r = outcome["result"]
                    print(
                        f"  {outcome['total_s']:.1f} s ({outcome['upload_s']:.1f} s upload) = "
                        f"{outcome['rows_per_s']:,.0f} rows/s; new {r['new']:,}, already "
                        f"present {r['already_present']:,}, skipped {r['skipped']:,}; "
                        f"phases {r.get('seconds')}",
                        flush=True,
                    )
        print(
            "\n| file | run | rows | upload s | job s | total s | rows/s | new | already present |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for fmt, label, o in results:
            r = o["result"]
            print(
                f"| {fmt} | {label} | {o['rows']:,} | {o['upload_s']:.1f} | {o['job_s']:.1f} | "
                f"{o['total_s']:.1f} | {o['rows_per_s']:,.0f} | {r['new']:,} | "
                f"{r['already_present']:,} |"
            )
        print(
            f"\nPython {sys.version.split()[0]}, {os.cpu_count()} cores, one uvicorn, one worker."
        )
    finally:
        for process in (worker, server):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        for path in files.values():
            path.unlink(missing_ok=True)
        if not args.keep:
            conn = psycopg2.connect(admin_url)
            conn.autocommit = True
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
            conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
