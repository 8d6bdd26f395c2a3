"""Row-level security: the organisation of the current transaction, the policies that hold every
tenant table to it, and the application role they apply to (README: "Row-level security").

The API, the worker and `spendlens import` connect as the application role (not the tables'
owner, no BYPASSRLS); every tenant table is policed by `org_id = spendlens.org_id`, a setting
made per transaction with `set_config(..., true)` (= `SET LOCAL`). A query that forgets its
`org_id` filter therefore sees the current organisation's rows only, and none while no
organisation is set. Migrations, the demo seed and backups run as the owner, which bypasses RLS.
"""

from __future__ import annotations

import logging

import psycopg2

from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, SessionTransaction

from spendlens.config import Settings
from spendlens.imports.staging import STAGING_SCHEMA

logger = logging.getLogger("spendlens.tenancy")

# The custom setting the policies read; empty or unset means "no organisation".
ORG_SETTING = "spendlens.org_id"
# The current organisation as the policies see it (NULL when unset, so nothing matches).
CURRENT_ORG_SQL = f"NULLIF(current_setting('{ORG_SETTING}', true), '')::bigint"
# The name of every tenant table's policy.
POLICY_NAME = "tenant_isolation"

_SET_ORG = text(f"SELECT set_config('{ORG_SETTING}', :org_id, true)")


def set_org(db: Session | Connection, org_id: int) -> None:
    """Make `org_id` the organisation of `db`'s current transaction (until it ends).

    For a Session that may commit and go on, use `bind_org` instead."""
    db.execute(_SET_ORG, {"org_id": str(int(org_id))})


def bind_org(session: Session, org_id: int) -> None:
    """Make `org_id` the organisation of `session`'s transaction and of every later one (a
    service may commit mid-request, e.g. the login's failure count)."""
    session.info["org_id"] = int(org_id)
    if session.in_transaction():
        set_org(session, org_id)
    else:
        session.connection()  # begins the transaction: `_apply_bound_org` sets the org


@event.listens_for(Session, "after_begin")
def _apply_bound_org(
    session: Session, transaction: SessionTransaction, connection: Connection
) -> None:
    org_id = session.info.get("org_id")
    if org_id is not None:
        set_org(connection, org_id)


# --- Cross-organisation lookups ---------------------------------------------------------------
# Before the request's organisation is known, three lookups must search every organisation. Each
# is one SECURITY DEFINER function (owned by the owner, fixed search_path, created in migration
# 0007) that answers one organisation id and nothing else; the caller then sets that
# organisation and reads the rows it needs through the policies like any other query.


def org_of_email(db: Session | Connection, email: str) -> int | None:
    """The organisation of the account with this (normalised) email, None when there is none
    (emails are unique across organisations: login, signup and invitations need to know)."""
    return db.execute(text("SELECT spendlens_org_of_email(:email)"), {"email": email}).scalar()


def org_of_invitation(db: Session | Connection, token_hash: str) -> int | None:
    """The organisation of the invitation with this token hash (accepting one)."""
    return db.execute(
        text("SELECT spendlens_org_of_invitation(:token_hash)"), {"token_hash": token_hash}
    ).scalar()


def org_of_ingest_key(db: Session | Connection, key_hash: str) -> int | None:
    """The organisation of the live ingest key with this hash (event ingest authenticates)."""
    return db.execute(
        text("SELECT spendlens_org_of_ingest_key(:key_hash)"), {"key_hash": key_hash}
    ).scalar()


def analyze(db: Session | Connection, table: str) -> None:
    """ANALYZE one of the schema's tables, which only its owner may do (through a SECURITY
    DEFINER function): an import that grew a table refreshes the planner's statistics."""
    db.execute(text("SELECT spendlens_analyze(CAST(:table AS regclass))"), {"table": table})


# --- Migrations -------------------------------------------------------------------------------


def row_security_sql(table: str) -> list[str]:
    """Statements that put tenant table `table` (it has an `org_id` column) under row-level
    security: ENABLE and FORCE, and one policy for every command. A migration that creates a
    tenant table runs them: `for statement in row_security_sql("events"): op.execute(statement)`.
    A partitioned table needs them on the parent only (queries go through it)."""
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
        f"CREATE POLICY {POLICY_NAME} ON {table} "
        f"USING (org_id = {CURRENT_ORG_SQL}) WITH CHECK (org_id = {CURRENT_ORG_SQL})",
    ]


def drop_row_security_sql(table: str) -> list[str]:
    """The reverse of `row_security_sql` (for a migration's downgrade)."""
    return [
        f"DROP POLICY IF EXISTS {POLICY_NAME} ON {table}",
        f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
    ]


# --- The application role ---------------------------------------------------------------------


class UnsafeApplicationRole(RuntimeError):
    """The application role could bypass row-level security (superuser or BYPASSRLS)."""


def app_role_name(settings: Settings) -> str:
    """The database user the API, the worker and `spendlens import` connect as."""
    return make_url(settings.app_sqlalchemy_url).username or settings.app_db_role


def provision_app_role(conn: Connection, settings: Settings) -> str:
    """Create the application role if it does not exist (LOGIN, nothing else) and grant it what
    the application needs on this database; idempotent, run by `spendlens migrate` as the owner
    after every upgrade. Returns the role's name.

    The role gets SELECT/INSERT/UPDATE/DELETE on the schema's tables (and, by default
    privileges, on tables the owner creates later), its sequences and functions, CREATE in the
    import staging schema and TEMPORARY on the database. It owns nothing of the schema, so the
    policies apply to it; refused when it is a superuser or has BYPASSRLS.
    """
    role = app_role_name(settings)
    url = make_url(settings.app_sqlalchemy_url)
    if role == conn.execute(text("SELECT current_user")).scalar_one():
        raise UnsafeApplicationRole(
            f"The application role {role!r} is the owner that migrates: set "
            "SPENDLENS_APP_DATABASE_URL (or SPENDLENS_APP_DB_ROLE) to another role"
        )
    _create_role(conn, role, url.password)
    attributes = conn.execute(
        text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).one()
    if attributes.rolsuper or attributes.rolbypassrls:
        raise UnsafeApplicationRole(
            f"The application role {role!r} is a superuser or has BYPASSRLS: row-level "
            "security would not apply to it"
        )
    schema = conn.execute(text("SELECT current_schema()")).scalar_one()
    quoted = _identifiers(conn, role=role, schema=schema)
    r, s, db = quoted["role"], quoted["schema"], quoted["database"]
    statements = [
        f"GRANT CONNECT, TEMPORARY ON DATABASE {db} TO {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {s} TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT EXECUTE ON FUNCTIONS TO {r}",
    ]
    if _relation_exists(conn, f"{schema}.alembic_version"):
        # The migration history is the owner's business.
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON {s}.alembic_version FROM {r}")
    if conn.execute(
        text("SELECT 1 FROM pg_namespace WHERE nspname = :name"), {"name": STAGING_SCHEMA}
    ).first():
        statements.append(f"GRANT USAGE, CREATE ON SCHEMA {STAGING_SCHEMA} TO {r}")
    for statement in statements:
        conn.exec_driver_sql(statement)
    _hand_over_staged_uploads(conn, role)
    return role


def _hand_over_staged_uploads(conn: Connection, role: str) -> None:
    """Uploads staged before the application role existed (by the owner, when the API still
    connected as it) go to the role, which reads and drops them when their jobs run again."""
    statements = conn.execute(
        text(
            "SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, "
            "CAST(:role AS text)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = :schema "
            "WHERE c.relkind = 'r' AND pg_get_userbyid(c.relowner) <> :role"
        ),
        {"schema": STAGING_SCHEMA, "role": role},
    ).scalars()
    for statement in list(statements):
        try:
            with conn.begin_nested():
                conn.exec_driver_sql(statement)
        except DBAPIError:  # the owner may not be allowed to; the upload stays the owner's
            logger.warning("could not run %s", statement)


def _identifiers(conn: Connection, **names: str) -> dict[str, str]:
    row = conn.execute(
        text(
            "SELECT quote_ident(:role) AS role, quote_ident(:schema) AS schema, "
            "quote_ident(current_database()) AS database"
        ),
        names,
    ).one()
    return dict(row._mapping)


def _relation_exists(conn: Connection, name: str) -> bool:
    return conn.execute(text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one()


def _create_role(conn: Connection, role: str, password: str | None) -> None:
    """CREATE ROLE unless it exists, with `password` if any (an existing role keeps its own:
    change it with ALTER ROLE). Roles belong to the whole server: another database's migration
    may be creating it at the same moment, hence the savepoint."""
    exists = conn.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role})
    if exists.first() is not None:
        return
    statement = conn.execute(
        text(
            "SELECT format('CREATE ROLE %I LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB "
            "NOCREATEROLE NOREPLICATION' || CASE WHEN CAST(:password AS text) IS NULL "
            "THEN '' ELSE ' PASSWORD %L' END, CAST(:role AS text), CAST(:password AS text))"
        ),
        {"role": role, "password": password},
    ).scalar_one()
    try:
        with conn.begin_nested():
            # The DBAPI cursor without parameters: a '%' in the password stays as it is.
            with conn.connection.driver_connection.cursor() as cursor:
                cursor.execute(statement)
        logger.info("created the application role %s", role)
    except psycopg2.Error as exc:
        if exc.pgcode not in ("42710", "23505"):  # created meanwhile
            raise
