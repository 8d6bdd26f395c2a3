"""Jobs, the import staging schema and the procrastinate task queue's schema.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 01:27:15.731733

The queue's schema is the SQL file shipped inside the pinned procrastinate package (3.10.0), so
`spendlens migrate` is the only schema step. Upgrading procrastinate later needs a new migration that
runs the package's own migration scripts (procrastinate/sql/migrations) for the versions in between.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from spendlens.imports.staging import STAGING_SCHEMA
from spendlens.jobs.schema import DROP_PROCRASTINATE_SQL, procrastinate_schema_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("processed", sa.BigInteger(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=True),
        sa.Column("errors", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("error_count", sa.BigInteger(), nullable=False),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queue_job_id", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_jobs_state"),
        ),
        sa.CheckConstraint(
            "processed >= 0 AND error_count >= 0", name=op.f("ck_jobs_counts_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_jobs_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_jobs_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_org_id_created_at", "jobs", ["org_id", "created_at"], unique=False)
    # One UNLOGGED table per upload lands here (created and dropped by the import code).
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {STAGING_SCHEMA}")
    # The driver formats parameters even when there are none: double the percent signs, exactly
    # as procrastinate's own SchemaManager.apply_schema does.
    op.get_bind().exec_driver_sql(procrastinate_schema_sql().replace("%", "%%"))


def downgrade() -> None:
    op.execute(sa.text(DROP_PROCRASTINATE_SQL))
    op.execute(f"DROP SCHEMA IF EXISTS {STAGING_SCHEMA} CASCADE")
    op.drop_index("ix_jobs_org_id_created_at", table_name="jobs")
    op.drop_table("jobs")
