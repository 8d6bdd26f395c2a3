"""The customer journey: stage intervals, milestones, customers pending a rebuild, the churn setting
and the daily rollups (stage counts and transitions).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 17:40:00
"""

from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

STAGES = "'lead', 'prospect', 'customer', 'churned'"


def _org_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id"],
        ["organizations.id"],
        name=op.f(f"fk_{table}_org_id_organizations"),
        ondelete="CASCADE",
    )


def _customer_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["org_id", "customer_id"],
        ["customers.org_id", "customers.id"],
        name=op.f(f"fk_{table}_org_id_customer_id_customers"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_table(
        "journey_settings",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("churn_after_days", sa.Integer(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.CheckConstraint(
            "churn_after_days BETWEEN 1 AND 3650",
            name=op.f("ck_journey_settings_churn_after_days_range"),
        ),
        _org_fk("journey_settings"),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_journey_settings_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_journey_settings")),
    )
    op.create_table(
        "customer_stages",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("reactivation", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint(f"stage IN ({STAGES})", name=op.f("ck_customer_stages_stage")),
        sa.CheckConstraint(
            "valid_to IS NULL OR valid_to > valid_from", name=op.f("ck_customer_stages_valid_range")
        ),
        sa.CheckConstraint(
            "NOT reactivation OR stage = 'customer'",
            name=op.f("ck_customer_stages_reactivation_customer"),
        ),
        _org_fk("customer_stages"),
        _customer_fk("customer_stages"),
        sa.PrimaryKeyConstraint(
            "org_id", "customer_id", "valid_from", name=op.f("pk_customer_stages")
        ),
    )
    op.create_table(
        "customer_milestones",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("prospect_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("customer_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reactivations", sa.Integer(), nullable=False),
        _org_fk("customer_milestones"),
        _customer_fk("customer_milestones"),
        sa.PrimaryKeyConstraint("org_id", "customer_id", name=op.f("pk_customer_milestones")),
    )
    op.create_index(
        "ix_customer_milestones_org_id_first_seen_at",
        "customer_milestones",
        ["org_id", "first_seen_at"],
        unique=False,
    )
    op.create_table(
        "journey_pending",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "queued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        _org_fk("journey_pending"),
        sa.PrimaryKeyConstraint("org_id", "customer_id", name=op.f("pk_journey_pending")),
    )
    op.create_table(
        "journey_daily_transitions",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_stage", sa.String(length=16), nullable=False),
        sa.Column("to_stage", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            f"from_stage IN ('new', {STAGES})", name=op.f("ck_journey_daily_transitions_from_stage")
        ),
        sa.CheckConstraint(
            f"to_stage IN ({STAGES})", name=op.f("ck_journey_daily_transitions_to_stage")
        ),
        sa.CheckConstraint(
            "customers >= 0", name=op.f("ck_journey_daily_transitions_customers_not_negative")
        ),
        _org_fk("journey_daily_transitions"),
        sa.PrimaryKeyConstraint(
            "org_id", "day", "from_stage", "to_stage", name=op.f("pk_journey_daily_transitions")
        ),
    )
    op.create_table(
        "journey_daily_stages",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"stage IN ({STAGES})", name=op.f("ck_journey_daily_stages_stage")),
        sa.CheckConstraint(
            "customers >= 0", name=op.f("ck_journey_daily_stages_customers_not_negative")
        ),
        _org_fk("journey_daily_stages"),
        sa.PrimaryKeyConstraint("org_id", "day", "stage", name=op.f("pk_journey_daily_stages")),
    )


def downgrade() -> None:
    op.drop_table("journey_daily_stages")
    op.drop_table("journey_daily_transitions")
    op.drop_table("journey_pending")
    op.drop_index("ix_customer_milestones_org_id_first_seen_at", table_name="customer_milestones")
    op.drop_table("customer_milestones")
    op.drop_table("customer_stages")
    op.drop_table("journey_settings")
