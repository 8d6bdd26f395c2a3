"""The `spendlens` command: run, migrate, seed, serve, worker and import."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

logger = logging.getLogger("spendlens.cli")

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"


def alembic_config(database_url: str | None = None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if database_url:
        cfg.attributes["database_url"] = database_url
    return cfg


def migrate(database_url: str | None = None, revision: str = "head") -> None:
    """Upgrade the database at `database_url` (the owner's; default: settings) to `revision`,
    then create and grant the application role (README: "Row-level security")."""
    from alembic import command

    command.upgrade(alembic_config(database_url), revision)
    grant_app_role(database_url)


def grant_app_role(database_url: str | None = None) -> str:
    """Create the application role if needed and grant it what it needs; returns its name."""
    from spendlens.config import get_settings
    from spendlens.db import make_engine
    from spendlens.tenancy import provision_app_role

    settings = get_settings()
    engine = make_engine(database_url or settings.sqlalchemy_url, pool_size=1)
    try:
        with engine.begin() as conn:
            return provision_app_role(conn, settings)
    finally:
        engine.dispose()


def downgrade(database_url: str | None = None, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(database_url), revision)


def _use_database(url: str) -> None:
    """Point settings (and child processes) at `url`."""
    from spendlens.config import get_settings
    from spendlens.db import get_engine

    os.environ["SPENDLENS_DATABASE_URL"] = url
    get_settings.cache_clear()
    get_engine.cache_clear()


def _ensure_local_database() -> str:
    """The configured database (DATABASE_URL, SPENDLENS_DATABASE_URL or .env); without one, an
    embedded PostgreSQL under .data/, shared by every `spendlens` process that uses it and
    stopped when the last of them exits."""
    from spendlens.config import get_settings
    from spendlens.local_db import (
        default_data_dir,
        ensure_database,
        start_embedded_postgres,
        with_database,
    )

    settings = get_settings()
    if "database_url" in settings.model_fields_set:
        return settings.database_url
    data_dir = default_data_dir()
    print(f"Using embedded PostgreSQL in {data_dir} ...", flush=True)
    admin_url = start_embedded_postgres(data_dir)
    ensure_database(admin_url, "spendlens")
    return with_database(admin_url, "spendlens")


def cmd_migrate(args: argparse.Namespace) -> int:
    migrate(revision=args.revision)
    print(f"Migrated to {args.revision}.")
    return 0


def cmd_seed(args: argparse.Namespace) -> int:
    from spendlens.db import owner_engine
    from spendlens.seed import main_summary, seed_demo

    engine = owner_engine()
    try:
        results = seed_demo(engine, as_of=args.as_of, scale=args.scale)
    finally:
        engine.dispose()
    print(main_summary(results))
    created = [result.slug for result in results if result.created]
    if created:
        _queue_first_rfm_snapshots(created, args.as_of)
        _queue_first_journeys(created)
        print(f"queued the first RFM snapshot of {', '.join(created)} (the worker computes it)")
        print(f"queued the customer stages of {', '.join(created)} (a `journey` job)")
    return 0


def _queue_first_rfm_snapshots(slugs: list[str], as_of) -> None:
    """New demo organisations get an RFM snapshot as of their last day of data right away (not
    at the next nightly run), so segment filters and customers' RFM work from the start."""
    from sqlalchemy import select

    from spendlens.db import background_transaction
    from spendlens.models import Organization
    from spendlens.segments.service import queue_recompute
    from spendlens.tenancy import set_org

    with background_transaction() as conn:
        orgs = conn.execute(
            select(Organization.id).where(Organization.slug.in_(slugs)).order_by(Organization.id)
        ).scalars()
        for org_id in list(orgs):
            set_org(conn, org_id)
            queue_recompute(conn, org_id, trigger="seed", as_of=as_of)


def _queue_first_journeys(slugs: list[str]) -> None:
    """New demo organisations get their customers' stages derived from the seeded events by a
    `journey` job right away (the seed writes events directly, not through the ingest)."""
    from sqlalchemy import select

    from spendlens.db import background_transaction
    from spendlens.journey.service import queue_full_rebuild
    from spendlens.models import Organization
    from spendlens.tenancy import set_org

    with background_transaction() as conn:
        orgs = conn.execute(
            select(Organization.id).where(Organization.slug.in_(slugs)).order_by(Organization.id)
        ).scalars()
        for org_id in list(orgs):
            set_org(conn, org_id)
            queue_full_rebuild(conn, org_id, trigger="seed")


def _serve(host: str, port: int, reload: bool = False) -> None:
    import uvicorn

    uvicorn.run(
        "spendlens.main:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        log_level="info",
        # The app logs every request itself (spendlens.access: JSON, with its request id and
        # duration); uvicorn's own access line would be a second line for each.
        access_log=False,
        proxy_headers=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    _serve(args.host, args.port, args.reload)
    return 0


def cmd_dashboard(args: argparse.Namespace) -> int:
    from spendlens_dashboard.server import serve

    serve(host=args.host, port=args.port, api_url=args.api_url)
    return 0


def _start_dashboard(api_host: str, api_port: int, port: int) -> subprocess.Popen | None:
    try:
        if importlib.util.find_spec("spendlens_dashboard.server") is None:
            return None
    except ModuleNotFoundError:
        return None
    api_url = f"http://{api_host}:{api_port}"
    return subprocess.Popen(
        [sys.executable, "-m", "spendlens.cli", "dashboard", "--host", api_host]
        + ["--port", str(port), "--api-url", api_url]
    )


def cmd_worker(args: argparse.Namespace) -> int:
    from spendlens.jobs import runner
    from spendlens.jobs.worker import run_worker

    # Test and benchmark knobs (hidden from --help): smaller write batches, a pause after each.
    if args.chunk_rows:
        runner.tuning.chunk_rows = args.chunk_rows
    runner.tuning.step_delay = args.step_delay
    run_worker(concurrency=args.concurrency, name=args.name, extra_modules=args.imports)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from spendlens.imports.commandline import import_file

    return import_file(
        args.file,
        fmt=args.format,
        kind=args.kind,
        org_slug=args.org,
        mapping=args.mapping,
        encoding=args.encoding,
        dry=args.dry_run,
        skip_bad_rows=args.skip_bad_rows,
    )


def _start_worker() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "spendlens.cli", "worker"])


def _stop(process: subprocess.Popen | None) -> None:
    if process is None:
        return
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


def cmd_run(args: argparse.Namespace) -> int:
    """Everything a fresh machine needs: database, schema, demo data, API, worker, dashboard."""
    migrate()
    if not args.no_seed:
        cmd_seed(argparse.Namespace(as_of=None, scale=1.0))
    worker = None if args.no_worker else _start_worker()
    dashboard = None if args.no_dashboard else _start_dashboard(args.host, args.port, 5006)
    # The dashboard's process prints its own "Dashboard on …" banner once it is up.
    print(f"API on http://{args.host}:{args.port}  (docs: /docs)", flush=True)
    print("Ctrl-C stops everything.", flush=True)
    try:
        _serve(args.host, args.port)
    finally:
        _stop(dashboard)
        _stop(worker)
    return 0


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="spendlens", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("migrate", help="apply database migrations")
    p.add_argument("--revision", default="head")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("seed", help="load the demo organisations (does nothing if present)")
    p.add_argument("--as-of", type=_date, default=None, help="last day of the data (default today)")
    p.add_argument("--scale", type=float, default=1.0, help="multiply customers/transactions")
    p.set_defaults(func=cmd_seed)

    p = sub.add_parser("serve", help="serve the API")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--reload", action="store_true")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("dashboard", help="serve the Panel dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=5006)
    p.add_argument("--api-url", default=None, help="API address (default SPENDLENS_API_URL)")
    p.set_defaults(func=cmd_dashboard)

    p = sub.add_parser(
        "run", help="start PostgreSQL if needed, migrate, seed, serve API + dashboard"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-seed", action="store_true")
    p.add_argument("--no-dashboard", action="store_true")
    p.add_argument("--no-worker", action="store_true", help="do not start a jobs worker")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("worker", help="run background jobs; run several side by side")
    p.add_argument("--concurrency", type=int, default=1, help="jobs run at once by this worker")
    p.add_argument("--name", default=None, help="name in logs")
    p.add_argument(
        "--import",
        dest="imports",
        action="append",
        default=[],
        metavar="MODULE",
        help="also import MODULE (dotted name) for its job kinds and tasks; repeatable "
        "(every spendlens.<domain>.job and .tasks module is imported anyway)",
    )
    p.add_argument("--chunk-rows", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--step-delay", type=float, default=0.0, help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("import", help="import a file of transactions or customers")
    p.add_argument("file", type=Path)
    p.add_argument(
        "--format", required=True, choices=["native-csv", "json", "online-retail", "custom"]
    )
    p.add_argument("--org", default=None, help="organisation slug (default: the only one)")
    p.add_argument(
        "--kind", default="transactions", choices=["transactions", "customers", "merchants"]
    )
    p.add_argument("--mapping", default=None, help="JSON column mapping (custom), or @file")
    p.add_argument("--encoding", default="utf-8", choices=["utf-8", "cp1252", "latin-1"])
    p.add_argument("--dry-run", action="store_true", help="report only; write nothing")
    p.add_argument("--skip-bad-rows", action="store_true", help="import the good rows")
    p.set_defaults(func=cmd_import)
    return parser


# Commands that talk to the database; the dashboard only talks to the API.
DATABASE_COMMANDS = {"run", "migrate", "seed", "serve", "worker", "import"}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in DATABASE_COMMANDS:
            _use_database(_ensure_local_database())
        return args.func(args)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
