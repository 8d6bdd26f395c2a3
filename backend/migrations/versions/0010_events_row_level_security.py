"""Row-level security on the event, subscription and journey tables (migration 0007 did the
older tenant tables), the owner function that names an ingest key's organisation, and the one
that creates a monthly partition of `events` (the application role owns no table).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:00:00
"""

from alembic import op
import sqlalchemy as sa

from spendlens.tenancy import drop_row_security_sql, row_security_sql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "events",  # partitioned: the policy on the parent covers what goes through it
    "event_ids",
    "ingest_keys",
    "plans",
    "shops",
    "invoices",
    "payments",
    "customer_stages",
    "customer_milestones",
    "journey_settings",
    "journey_pending",
    "journey_daily_stages",
    "journey_daily_transitions",
)

FUNCTIONS = ("spendlens_org_of_ingest_key(text)", "spendlens_create_event_partition(date)")


def upgrade() -> None:
    schema = op.get_bind().execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    for table in TENANT_TABLES:
        for statement in row_security_sql(table):
            op.execute(statement)
    settings = f"SECURITY DEFINER SET search_path = {schema}, pg_temp"
    op.execute(f"""
        CREATE FUNCTION spendlens_org_of_ingest_key(p_key_hash text) RETURNS bigint
        LANGUAGE sql STABLE {settings}
        AS $$ SELECT org_id FROM {schema}.ingest_keys
              WHERE key_hash = p_key_hash AND revoked_at IS NULL $$
        """)
    # What spendlens.events.partitions.create_month did as the owner: the partition of the
    # month starting `p_month`, taking its rows over from the default partition; rows moved.
    op.execute(f"""
        CREATE FUNCTION spendlens_create_event_partition(p_month date) RETURNS bigint
        LANGUAGE plpgsql {settings}
        AS $$
        DECLARE
            name text := format('events_p%s', to_char(p_month, 'YYYYMM'));
            first timestamptz := (p_month::timestamp AT TIME ZONE 'UTC');
            after timestamptz := ((p_month + interval '1 month')::timestamp AT TIME ZONE 'UTC');
            moved bigint;
        BEGIN
            IF p_month <> date_trunc('month', p_month)::date THEN
                RAISE EXCEPTION 'not the first day of a month: %', p_month;
            END IF;
            LOCK TABLE events_default IN EXCLUSIVE MODE;
            EXECUTE format(
                'CREATE TABLE %I (LIKE events INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', name);
            EXECUTE format(
                'WITH moved AS (DELETE FROM events_default WHERE occurred_at >= $1 '
                'AND occurred_at < $2 RETURNING *) INSERT INTO %I SELECT * FROM moved', name)
                USING first, after;
            GET DIAGNOSTICS moved = ROW_COUNT;
            EXECUTE format(
                'ALTER TABLE events ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)',
                name, first, after);
            RETURN moved;
        END
        $$
        """)
    for function in FUNCTIONS:
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for table in reversed(TENANT_TABLES):
        for statement in drop_row_security_sql(table):
            op.execute(statement)
