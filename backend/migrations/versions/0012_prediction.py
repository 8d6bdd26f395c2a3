"""Next-month purchase and churn models: every trained model with its metrics and fitted
estimator, and its predictions on the test cutoff; both tables under row-level security.

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-03 21:27:19.952744
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from spendlens.tenancy import drop_row_security_sql, row_security_sql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TENANT_TABLES = ("prediction_models", "predictions")


def upgrade() -> None:
    op.create_table(
        "prediction_models",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("algorithm", sa.String(length=64), nullable=False),
        sa.Column("baseline_algorithm", sa.String(length=64), nullable=False),
        sa.Column("features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("baseline_features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("test_cutoff", sa.Date(), nullable=False),
        sa.Column("train_cutoffs", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("metrics", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("importances", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("training", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("threshold", sa.Double(), nullable=True),
        sa.Column("threshold_method", sa.Text(), nullable=True),
        sa.Column("estimator", sa.LargeBinary(), nullable=True),
        sa.Column("library_version", sa.String(length=32), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("trained_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_prediction_models_state"),
        ),
        sa.CheckConstraint(
            "target IN ('purchase_30d', 'churn_90d')", name=op.f("ck_prediction_models_target")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_prediction_models_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "job_id"],
            ["jobs.org_id", "jobs.id"],
            name=op.f("fk_prediction_models_org_id_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_prediction_models_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_prediction_models")),
        sa.UniqueConstraint(
            "org_id", "target", "version", name=op.f("uq_prediction_models_org_id_target_version")
        ),
    )
    op.create_index(
        "ix_prediction_models_one_active",
        "prediction_models",
        ["org_id", "target"],
        unique=True,
        postgresql_where=sa.text("active"),
    )
    op.create_index(
        "ix_prediction_models_org_id_job_id",
        "prediction_models",
        ["org_id", "job_id"],
        unique=False,
    )
    op.create_table(
        "predictions",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("probability", sa.Double(), nullable=False),
        sa.Column("predicted", sa.Boolean(), nullable=False),
        sa.Column("actual", sa.Boolean(), nullable=False),
        sa.Column("baseline_probability", sa.Double(), nullable=False),
        sa.Column("baseline_predicted", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_predictions_org_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "model_id"],
            ["prediction_models.org_id", "prediction_models.id"],
            name=op.f("fk_predictions_org_id_model_id_prediction_models"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "model_id", "customer_id", name=op.f("pk_predictions")),
    )
    op.create_index(
        "ix_predictions_org_id_customer_id", "predictions", ["org_id", "customer_id"], unique=False
    )
    for table in TENANT_TABLES:
        for statement in row_security_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_row_security_sql(table):
            op.execute(statement)
    op.drop_index("ix_predictions_org_id_customer_id", table_name="predictions")
    op.drop_table("predictions")
    op.drop_index("ix_prediction_models_org_id_job_id", table_name="prediction_models")
    op.drop_index(
        "ix_prediction_models_one_active",
        table_name="prediction_models",
        postgresql_where=sa.text("active"),
    )
    op.drop_table("prediction_models")
