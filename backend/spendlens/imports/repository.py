"""SQL of imports: the staging table and its COPY, the parsed rows, their report, and the merge
into customers, merchants and transactions (always within one organisation)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, BinaryIO

import psycopg2
from psycopg2 import sql as pgsql
from sqlalchemy import Connection, text

from spendlens.imports.parsing import ParseQuery
from spendlens.imports.staging import STAGING_SCHEMA
from spendlens.tenancy import analyze, set_org

COPY_BUFFER_BYTES = 1 << 20
PG_ENCODINGS = {"utf-8": "UTF8", "latin-1": "LATIN1", "cp1252": "WIN1252"}


class CopyRejected(Exception):
    """COPY refused the file: a line that is not valid CSV or not in the declared encoding."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def staging_table(job_id: int) -> str:
    return f"{STAGING_SCHEMA}.job_{int(job_id)}"


def create_staging(conn: Connection, name: str, columns: int, *, temporary: bool) -> None:
    """A table of text columns c1…cN plus the record's position in the file (row_no).

    Uploads for jobs go to an UNLOGGED table (workers read it from other connections; WAL for
    scratch data would only slow the upload down); dry runs use a temporary one.
    """
    column_list = ", ".join(f"c{i} text" for i in range(1, columns + 1))
    persistence = "TEMPORARY" if temporary else "UNLOGGED"
    conn.exec_driver_sql(
        f"CREATE {persistence} TABLE {name} "
        f"(row_no bigint GENERATED ALWAYS AS IDENTITY, {column_list})"
    )


def drop_table(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


def table_exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one()


def org_settings(conn: Connection, org_id: int) -> tuple[str, str]:
    """The organisation's time zone (UTC when PostgreSQL does not know it) and base currency."""
    row = conn.execute(
        text(
            "SELECT o.timezone, o.base_currency, "
            "EXISTS (SELECT 1 FROM pg_timezone_names z WHERE z.name = o.timezone) "
            "FROM organizations o WHERE o.id = :org_id"
        ),
        {"org_id": org_id},
    ).one()
    return (row[0] if row[2] else "UTC"), row[1]


def drop_stale_staging_tables(conn: Connection, *, retention_days: int) -> list[str]:
    """Drop the staging tables no job will read again; returns their names.

    A job's run drops its table when it ends, except after an unexpected failure, when the table
    stays so that the job can be retried. Such tables go once the job has been failed for
    `retention_days`; so does a table whose job no longer exists or has finished otherwise.
    Jobs are read organisation by organisation (row-level security shows one at a time); a
    table whose job no organisation has is stale.
    """
    tables = conn.execute(text(f"""
            SELECT c.relname
            FROM pg_class c
            JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = '{STAGING_SCHEMA}'
            WHERE c.relkind = 'r' AND c.relname ~ '^job_[0-9]{{1,18}}$'
            """)).scalars()
    by_job = {int(name[len("job_") :]): name for name in tables}
    if not by_job:
        return []
    still_needed: set[int] = set()
    for org_id in conn.execute(text("SELECT id FROM organizations ORDER BY id")).scalars().all():
        set_org(conn, org_id)
        still_needed.update(
            conn.execute(
                text("""
                    SELECT id FROM jobs
                    WHERE org_id = :org_id AND id = ANY(:job_ids)
                      AND state NOT IN ('succeeded', 'cancelled')
                      AND NOT (state = 'failed' AND COALESCE(
                          finished_at < now() - make_interval(days => :days), false))
                    """),
                {"org_id": org_id, "job_ids": list(by_job), "days": retention_days},
            ).scalars()
        )
    names = sorted(f"{STAGING_SCHEMA}.{by_job[job_id]}" for job_id in by_job.keys() - still_needed)
    for name in names:
        drop_table(conn, name)
    return names


def copy_into_staging(
    conn: Connection,
    name: str,
    columns: int,
    source: BinaryIO,
    *,
    delimiter: str,
    encoding: str,
    header: bool = True,
) -> int:
    """Stream `source` (CSV) into the staging table with COPY; returns the records loaded."""
    dbapi = conn.connection.driver_connection
    statement = pgsql.SQL(
        "COPY {table} ({columns}) FROM STDIN WITH "
        "(FORMAT csv, HEADER {header}, DELIMITER {delimiter}, ENCODING {encoding})"
    ).format(
        table=pgsql.SQL(name),
        columns=pgsql.SQL(", ").join(pgsql.Identifier(f"c{i}") for i in range(1, columns + 1)),
        header=pgsql.SQL("true" if header else "false"),
        delimiter=pgsql.Literal(delimiter),
        encoding=pgsql.Literal(PG_ENCODINGS[encoding]),
    )
    with dbapi.cursor() as cursor:
        try:
            cursor.copy_expert(statement.as_string(dbapi), source, size=COPY_BUFFER_BYTES)
        except psycopg2.Error as exc:
            failure = getattr(source, "failure", None)  # the JSON reader's own complaint
            if failure is not None:
                raise CopyRejected(str(failure), None) from exc
            if not isinstance(exc, (psycopg2.DataError, psycopg2.errors.BadCopyFileFormat)):
                raise
            found = re.search(r"line (\d+)", exc.diag.context or "")
            message = (exc.diag.message_primary or str(exc)).strip()
            raise CopyRejected(message, int(found.group(1)) if found else None) from exc
        return cursor.rowcount


def create_parsed(conn: Connection, name: str, query: ParseQuery) -> None:
    """Materialise the typed rows (a temporary table, gone at commit) and gather statistics,
    which PostgreSQL never does on its own for temporary tables."""
    conn.execute(text(f"CREATE TEMPORARY TABLE {name} ON COMMIT DROP AS {query.sql}"), query.params)
    conn.exec_driver_sql(f"ANALYZE {name}")


@dataclass
class Counts:
    rows: int
    invalid: int
    skipped: int

    @property
    def valid(self) -> int:
        return self.rows - self.invalid - self.skipped


def counts(conn: Connection, parsed: str) -> Counts:
    row = conn.exec_driver_sql(
        f"SELECT count(*), count(problem), count(*) FILTER (WHERE problem IS NULL AND skip "
        f"IS NOT NULL) FROM {parsed}"
    ).one()
    return Counts(rows=row[0], invalid=row[1], skipped=row[2])


def problems(conn: Connection, parsed: str, *, skipped: bool, limit: int) -> list[dict[str, Any]]:
    """The first `limit` problems (or skipped rows) as {row, column, value, reason}."""
    condition = "problem IS NULL AND skip IS NOT NULL" if skipped else "problem IS NOT NULL"
    column = "skip" if skipped else "problem"
    rows = conn.execute(
        text(
            f"SELECT row_no, {column}[1], {column}[2], {column}[3] FROM {parsed} "
            f"WHERE {condition} ORDER BY row_no LIMIT :limit"
        ),
        {"limit": limit},
    ).all()
    return [
        {"row": r[0], "column": r[1], "value": r[2] if r[2] else None, "reason": r[3]} for r in rows
    ]


def skip_reasons(conn: Connection, parsed: str) -> dict[str, int]:
    rows = conn.exec_driver_sql(
        f"SELECT skip[3], count(*) FROM {parsed} WHERE problem IS NULL AND skip IS NOT NULL "
        "GROUP BY 1 ORDER BY 2 DESC"
    ).all()
    return {reason: count for reason, count in rows}


def preview(conn: Connection, parsed: str, columns: list[str], limit: int) -> list[Any]:
    return conn.exec_driver_sql(
        f"SELECT row_no, {', '.join(columns)}, problem, skip FROM {parsed} "
        f"ORDER BY row_no LIMIT {int(limit)}"
    ).all()


_OK = "p.problem IS NULL AND p.skip IS NULL"


def _first(column: str) -> str:
    """The first non-null value of `column` in file order, within a GROUP BY."""
    return f"(array_agg({column} ORDER BY p.row_no) FILTER (WHERE {column} IS NOT NULL))[1]"


# --- transactions -------------------------------------------------------------------------------


def would_add_transactions(conn: Connection, parsed: str, org_id: int) -> dict[str, int]:
    """What a transactions import would create, without creating it (dry run)."""
    row = conn.execute(
        text(f"""
            SELECT
              (SELECT count(*) FROM {parsed} p
                 WHERE {_OK} AND p.external_id IS NOT NULL AND EXISTS (
                   SELECT 1 FROM transactions t
                   WHERE t.org_id = :org_id AND t.external_id = p.external_id)),
              (SELECT count(DISTINCT p.customer_ref) FROM {parsed} p
                 WHERE {_OK} AND p.customer_ref IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM customers c
                   WHERE c.org_id = :org_id AND c.external_id = p.customer_ref)),
              (SELECT count(DISTINCT p.merchant_name) FROM {parsed} p
                 WHERE {_OK} AND p.merchant_name IS NOT NULL AND NOT EXISTS (
                   SELECT 1 FROM merchants m
                   WHERE m.org_id = :org_id AND m.name = p.merchant_name))
            """),
        {"org_id": org_id},
    ).one()
    return {"already_present": row[0], "customers_created": row[1], "merchants_created": row[2]}


def insert_referenced_customers(conn: Connection, parsed: str, org_id: int) -> int:
    """Create the customers a transactions file names that the organisation does not have yet.

    A new customer takes the name and country of the first row that gives them; existing
    customers are never changed.
    """
    result = conn.execute(
        text(f"""
            INSERT INTO customers (org_id, external_id, name, country, lifecycle_stage)
            SELECT :org_id, p.customer_ref,
                   COALESCE({_first("p.customer_name")}, 'Customer ' || p.customer_ref),
                   {_first("p.country")}, 'customer'
            FROM {parsed} p
            WHERE {_OK} AND p.customer_ref IS NOT NULL
            GROUP BY p.customer_ref
            ON CONFLICT (org_id, external_id) DO NOTHING
            """),
        {"org_id": org_id},
    )
    return result.rowcount


def insert_referenced_merchants(conn: Connection, parsed: str, org_id: int) -> int:
    result = conn.execute(
        text(f"""
            INSERT INTO merchants (org_id, name)
            SELECT DISTINCT :org_id, p.merchant_name FROM {parsed} p
            WHERE {_OK} AND p.merchant_name IS NOT NULL
            ON CONFLICT (org_id, name) DO NOTHING
            """),
        {"org_id": org_id},
    )
    return result.rowcount


def refresh_statistics(conn: Connection, table: str, added: int) -> None:
    """ANALYZE `table` when this transaction grew it a lot.

    Foreign-key checks are planned from the parent table's statistics: a customers table that
    looks empty to the planner gets a sequential scan per inserted transaction, which made a
    first import into a fresh database ten times slower.
    """
    estimate = conn.execute(
        text("SELECT reltuples FROM pg_class WHERE oid = CAST(:table AS regclass)"),
        {"table": table},
    ).scalar_one()
    if added and (estimate < 0 or added > 0.2 * estimate):
        analyze(conn, table)  # only the owner may ANALYZE it: through the owner's function


def page_count(conn: Connection, table: str) -> int:
    return conn.execute(
        text(
            "SELECT pg_relation_size(CAST(:table AS regclass)) / "
            "current_setting('block_size')::int"
        ),
        {"table": table},
    ).scalar_one()


def insert_transactions(
    conn: Connection,
    parsed: str,
    org_id: int,
    first_page: int,
    end_page: int,
    *,
    match_content: bool,
) -> int:
    """Insert the valid rows stored on pages [first_page, end_page) of the parsed table; returns
    how many were new. A row whose external id the organisation already has is left alone; with
    `match_content`, so is a row without external id identical to an existing one."""
    content_match = ""
    if match_content:
        content_match = """
            AND (p.external_id IS NOT NULL OR NOT EXISTS (
              SELECT 1 FROM transactions t
              WHERE t.org_id = :org_id AND t.customer_id = COALESCE(c.id, p.customer_db_id)
                AND t.occurred_at = p.occurred_at AND t.amount = p.amount AND t.kind = p.kind
                AND t.category = p.category AND t.description = p.description
                AND t.quantity = p.quantity AND t.currency = p.currency
                AND t.merchant_id IS NOT DISTINCT FROM m.id AND t.external_id IS NULL))
        """
    result = conn.execute(
        text(f"""
            INSERT INTO transactions (org_id, customer_id, merchant_id, occurred_at, amount,
                                      currency, category, description, quantity, kind,
                                      external_id)
            SELECT :org_id, COALESCE(c.id, p.customer_db_id), m.id, p.occurred_at, p.amount,
                   p.currency, p.category, p.description, p.quantity, p.kind, p.external_id
            FROM {parsed} p
            LEFT JOIN customers c ON c.org_id = :org_id AND c.external_id = p.customer_ref
            LEFT JOIN merchants m ON m.org_id = :org_id AND m.name = p.merchant_name
            WHERE {_OK}
              AND p.ctid >= CAST(:low AS tid) AND p.ctid < CAST(:high AS tid)
              {content_match}
            ON CONFLICT (org_id, external_id) DO NOTHING
            """),
        {"org_id": org_id, "low": f"({first_page},0)", "high": f"({end_page},0)"},
    )
    return result.rowcount


# --- customers ----------------------------------------------------------------------------------


def would_add_customers(conn: Connection, parsed: str, org_id: int) -> dict[str, int]:
    row = conn.execute(
        text(f"""
            SELECT count(DISTINCT p.external_id) FILTER (WHERE c.id IS NULL),
                   count(DISTINCT p.external_id) FILTER (WHERE c.id IS NOT NULL)
            FROM {parsed} p
            LEFT JOIN customers c ON c.org_id = :org_id AND c.external_id = p.external_id
            WHERE {_OK}
            """),
        {"org_id": org_id},
    ).one()
    return {"new": row[0], "already_present": row[1]}


def would_add_merchants(conn: Connection, parsed: str, org_id: int) -> dict[str, int]:
    row = conn.execute(
        text(f"""
            SELECT count(*) FILTER (WHERE m.id IS NULL), count(*) FILTER (WHERE m.id IS NOT NULL)
            FROM {parsed} p
            LEFT JOIN merchants m ON m.org_id = :org_id AND m.name = p.name
            WHERE {_OK}
            """),
        {"org_id": org_id},
    ).one()
    return {"new": row[0], "already_present": row[1]}


def insert_merchants(conn: Connection, parsed: str, org_id: int) -> tuple[int, int]:
    """Create the file's merchants the organisation does not have; (new, already present).

    A merchant already there keeps its default category: re-importing changes nothing.
    """
    valid = conn.exec_driver_sql(f"SELECT count(*) FROM {parsed} p WHERE {_OK}").scalar_one()
    result = conn.execute(
        text(f"""
            INSERT INTO merchants (org_id, name, default_category)
            SELECT :org_id, p.name, p.default_category FROM {parsed} p
            WHERE {_OK}
            ORDER BY p.row_no
            ON CONFLICT (org_id, name) DO NOTHING
            """),
        {"org_id": org_id},
    )
    return result.rowcount, valid - result.rowcount


def insert_customers(conn: Connection, parsed: str, org_id: int) -> tuple[int, int]:
    """Create the file's customers the organisation does not have; (new, already present).

    Rows naming the same customer (Online Retail lines) give one customer: each field comes from
    the first row that has it.
    """
    distinct = conn.exec_driver_sql(
        f"SELECT count(DISTINCT p.external_id) FROM {parsed} p WHERE {_OK}"
    ).scalar_one()
    result = conn.execute(
        text(f"""
            INSERT INTO customers (org_id, external_id, name, email, country, signup_date,
                                   lifecycle_stage)
            SELECT :org_id, p.external_id, {_first("p.name")}, {_first("p.email")},
                   {_first("p.country")}, {_first("p.signup_date")},
                   {_first("p.lifecycle_stage")}
            FROM {parsed} p
            WHERE {_OK}
            GROUP BY p.external_id
            ON CONFLICT (org_id, external_id) DO NOTHING
            """),
        {"org_id": org_id},
    )
    return result.rowcount, distinct - result.rowcount
