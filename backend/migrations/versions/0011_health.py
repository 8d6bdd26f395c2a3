"""Customer health: versioned weights and bands per organisation, one computation per day and the
scores of every customer in it (history), each table under row-level security.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:40:00

Scores have no foreign key to their computation: the two are written and deleted together.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from spendlens.tenancy import drop_row_security_sql, row_security_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TENANT_TABLES = ("health_settings", "health_computations", "health_scores")


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_org_id_organizations"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "health_settings",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("weights", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("bands", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_health_settings_version_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_health_settings_created_by_users"),
            ondelete="SET NULL",
        ),
        _org_fk("health_settings"),
        sa.PrimaryKeyConstraint("org_id", "version", name=op.f("pk_health_settings")),
    )
    op.create_table(
        "health_computations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("unscored", sa.Integer(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        _org_fk("health_computations"),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_health_computations")),
        sa.UniqueConstraint("org_id", "as_of", name=op.f("uq_health_computations_org_id_as_of")),
    )
    op.create_table(
        "health_scores",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("computation_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("score", sa.Double(), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("components", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "band IN ('healthy', 'at_risk', 'critical')", name=op.f("ck_health_scores_band")
        ),
        sa.CheckConstraint(
            "score >= 0 AND score <= 100", name=op.f("ck_health_scores_score_range")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_health_scores_org_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "computation_id", "customer_id", name=op.f("pk_health_scores")
        ),
    )
    op.create_index(
        "ix_health_scores_org_customer_as_of",
        "health_scores",
        ["org_id", "customer_id", "as_of"],
        unique=False,
    )
    for table in TENANT_TABLES:
        for statement in row_security_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_row_security_sql(table):
            op.execute(statement)
    op.drop_index("ix_health_scores_org_customer_as_of", table_name="health_scores")
    op.drop_table("health_scores")
    op.drop_table("health_computations")
    op.drop_table("health_settings")
