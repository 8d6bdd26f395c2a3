"""Row-level security on every tenant table, and the three owner functions for what must look
across organisations before the request's organisation is known (see spendlens.tenancy).

The role that migrates must bypass row-level security (a superuser or BYPASSRLS): the functions
run as it, and backups (pg_dump) need it too.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 17:30:00
"""

from alembic import op
import sqlalchemy as sa

from spendlens.tenancy import CURRENT_ORG_SQL, drop_row_security_sql, row_security_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "users",
    "invitations",
    "customers",
    "merchants",
    "transactions",
    "jobs",
    "rfm_settings",
    "rfm_snapshots",
    "rfm_scores",
    "clv_fits",
    "clv_estimates",
)

FUNCTIONS = (
    "spendlens_org_of_email(text)",
    "spendlens_org_of_invitation(text)",
    "spendlens_analyze(regclass)",
)


def upgrade() -> None:
    bind = op.get_bind()
    can_bypass = bind.execute(
        sa.text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    ).scalar_one()
    if not can_bypass:
        raise RuntimeError(
            "Migrate as the database owner with BYPASSRLS (or a superuser): the row-level "
            "security functions of migration 0007 run as that role"
        )
    schema = bind.execute(sa.text("SELECT quote_ident(current_schema())")).scalar_one()
    for table in TENANT_TABLES:
        for statement in row_security_sql(table):
            op.execute(statement)
    # The tenants themselves: anyone may read them (signup checks slugs, the token's organisation
    # is read by id) and signup creates them, but only an organisation's own transaction may
    # change or delete it.
    op.execute("ALTER TABLE organizations ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE organizations FORCE ROW LEVEL SECURITY")
    op.execute("CREATE POLICY organizations_read ON organizations FOR SELECT USING (true)")
    op.execute("CREATE POLICY organizations_create ON organizations FOR INSERT WITH CHECK (true)")
    op.execute(
        f"CREATE POLICY organizations_change ON organizations FOR UPDATE "
        f"USING (id = {CURRENT_ORG_SQL}) WITH CHECK (id = {CURRENT_ORG_SQL})"
    )
    op.execute(
        f"CREATE POLICY organizations_delete ON organizations FOR DELETE "
        f"USING (id = {CURRENT_ORG_SQL})"
    )
    # A fixed search_path (the schema, then pg_temp last) so that no temporary table of the
    # caller can stand in for ours; each answers one organisation id, nothing else.
    settings = f"SECURITY DEFINER SET search_path = {schema}, pg_temp"
    op.execute(f"""
        CREATE FUNCTION spendlens_org_of_email(p_email text) RETURNS bigint
        LANGUAGE sql STABLE {settings}
        AS $$ SELECT org_id FROM {schema}.users WHERE email = p_email $$
        """)
    op.execute(f"""
        CREATE FUNCTION spendlens_org_of_invitation(p_token_hash text) RETURNS bigint
        LANGUAGE sql STABLE {settings}
        AS $$ SELECT org_id FROM {schema}.invitations WHERE token_hash = p_token_hash $$
        """)
    op.execute(f"""
        CREATE FUNCTION spendlens_analyze(p_table regclass) RETURNS void
        LANGUAGE plpgsql {settings}
        AS $$
        BEGIN
            IF NOT EXISTS (
                SELECT 1 FROM pg_class c
                WHERE c.oid = p_table AND c.relnamespace = '{schema}'::regnamespace
                  AND c.relkind IN ('r', 'p')
            ) THEN
                RAISE EXCEPTION 'spendlens_analyze: % is not a table of the schema', p_table;
            END IF;
            EXECUTE format('ANALYZE %s', p_table);
        END
        $$
        """)
    for function in FUNCTIONS:
        # Granted to the application role by `spendlens migrate` (spendlens.tenancy).
        op.execute(f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC")


def downgrade() -> None:
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    for policy in ("read", "create", "change", "delete"):
        op.execute(f"DROP POLICY IF EXISTS organizations_{policy} ON organizations")
    op.execute("ALTER TABLE organizations NO FORCE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE organizations DISABLE ROW LEVEL SECURITY")
    for table in reversed(TENANT_TABLES):
        for statement in drop_row_security_sql(table):
            op.execute(statement)
