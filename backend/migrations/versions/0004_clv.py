"""Customer lifetime value: the fits of the BG/NBD and Gamma-Gamma models and their per-customer
estimates.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 03:20:04.424230

"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clv_fits",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("calibration_start", sa.Date(), nullable=False),
        sa.Column("calibration_end", sa.Date(), nullable=False),
        sa.Column("holdout_end", sa.Date(), nullable=True),
        sa.Column("purchases_horizon_days", sa.Integer(), nullable=False),
        sa.Column("clv_horizon_days", sa.Integer(), nullable=False),
        sa.Column("monthly_discount_rate", sa.Numeric(precision=6, scale=4), nullable=False),
        sa.Column("time_unit", sa.String(length=8), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("customers", sa.Integer(), nullable=True),
        sa.Column("repeat_buyers", sa.Integer(), nullable=True),
        sa.Column("parameters", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("standard_errors", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("bgnbd_log_likelihood", sa.Double(), nullable=True),
        sa.Column("gamma_gamma_log_likelihood", sa.Double(), nullable=True),
        sa.Column("converged", sa.Boolean(), nullable=True),
        sa.Column("convergence", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("evaluation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("warnings", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("scored_as_of", sa.Date(), nullable=True),
        sa.Column("scored_customers", sa.Integer(), nullable=True),
        sa.Column("score_summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("fitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "calibration_end > calibration_start", name=op.f("ck_clv_fits_calibration_window")
        ),
        sa.CheckConstraint(
            "holdout_end IS NULL OR holdout_end > calibration_end",
            name=op.f("ck_clv_fits_holdout_window"),
        ),
        sa.CheckConstraint(
            "purchases_horizon_days > 0 AND clv_horizon_days > 0",
            name=op.f("ck_clv_fits_horizons_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "job_id"],
            ["jobs.org_id", "jobs.id"],
            name=op.f("fk_clv_fits_org_id_job_id_jobs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_clv_fits_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_clv_fits")),
    )
    op.create_index(
        "ix_clv_fits_org_id_fitted_at", "clv_fits", ["org_id", "fitted_at"], unique=False
    )
    op.create_index("ix_clv_fits_org_id_job_id", "clv_fits", ["org_id", "job_id"], unique=False)
    op.create_table(
        "clv_estimates",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("fit_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("recency", sa.Double(), nullable=False),
        sa.Column("age", sa.Double(), nullable=False),
        sa.Column("monetary", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("expected_purchases", sa.Double(), nullable=False),
        sa.Column("p_alive", sa.Double(), nullable=False),
        sa.Column("expected_spend", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("clv", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_clv_estimates_org_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "fit_id"],
            ["clv_fits.org_id", "clv_fits.id"],
            name=op.f("fk_clv_estimates_org_id_fit_id_clv_fits"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "fit_id", "customer_id", name=op.f("pk_clv_estimates")),
    )
    op.create_index(
        "ix_clv_estimates_org_id_customer_id",
        "clv_estimates",
        ["org_id", "customer_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_clv_estimates_org_id_customer_id", table_name="clv_estimates")
    op.drop_table("clv_estimates")
    op.drop_index("ix_clv_fits_org_id_job_id", table_name="clv_fits")
    op.drop_index("ix_clv_fits_org_id_fitted_at", table_name="clv_fits")
    op.drop_table("clv_fits")
