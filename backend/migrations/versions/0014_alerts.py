"""Alerts: rules and their destinations, the alerts they raise, per customer and rule whether the
condition held at the last evaluation, and delivery records; row-level security on all five.

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-03 21:16:17.808297
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from spendlens.tenancy import drop_row_security_sql, row_security_sql

revision = "0014"
down_revision = "0012"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "alert_rules",
    "alert_destinations",
    "alert_rule_states",
    "alerts",
    "alert_deliveries",
)


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("cooldown_minutes", sa.Integer(), nullable=False),
        sa.Column("escalation_minutes", sa.Integer(), nullable=True),
        sa.Column(
            "escalation_emails",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'"),
            nullable=False,
        ),
        sa.Column("created_by", sa.BigInteger(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('health_drop', 'entered_critical', 'churn_probability', 'spend_drop')",
            name=op.f("ck_alert_rules_kind"),
        ),
        sa.CheckConstraint(
            "severity IN ('critical', 'warning')", name=op.f("ck_alert_rules_severity")
        ),
        sa.CheckConstraint(
            "cooldown_minutes >= 0", name=op.f("ck_alert_rules_cooldown_not_negative")
        ),
        sa.CheckConstraint(
            "escalation_minutes IS NULL OR escalation_minutes > 0",
            name=op.f("ck_alert_rules_escalation_positive"),
        ),
        sa.ForeignKeyConstraint(
            ["created_by"],
            ["users.id"],
            name=op.f("fk_alert_rules_created_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_alert_rules_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("org_id", "name", name=op.f("uq_alert_rules_org_id_name")),
    )
    op.create_table(
        "alert_destinations",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel <> 'webhook' OR secret IS NOT NULL",
            name=op.f("ck_alert_destinations_webhook_secret"),
        ),
        sa.CheckConstraint(
            "channel IN ('webhook', 'email')", name=op.f("ck_alert_destinations_channel")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "rule_id"],
            ["alert_rules.org_id", "alert_rules.id"],
            name=op.f("fk_alert_destinations_org_id_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_alert_destinations")),
        sa.UniqueConstraint(
            "org_id",
            "rule_id",
            "channel",
            "target",
            name=op.f("uq_alert_destinations_org_id_rule_id_channel_target"),
        ),
    )
    op.create_table(
        "alert_rule_states",
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("condition_held", sa.Boolean(), nullable=False),
        sa.Column("cleared_since_alert", sa.Boolean(), nullable=False),
        sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_alert_rule_states_org_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "rule_id"],
            ["alert_rules.org_id", "alert_rules.id"],
            name=op.f("fk_alert_rule_states_org_id_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "org_id", "rule_id", "customer_id", name=op.f("pk_alert_rule_states")
        ),
    )
    op.create_index(
        "ix_alert_rule_states_org_id_customer_id",
        "alert_rule_states",
        ["org_id", "customer_id"],
        unique=False,
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("rule_id", sa.BigInteger(), nullable=False),
        sa.Column("customer_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="open", nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.BigInteger(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.BigInteger(), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("severity IN ('critical', 'warning')", name=op.f("ck_alerts_severity")),
        sa.CheckConstraint(
            "state IN ('open', 'acknowledged', 'resolved')", name=op.f("ck_alerts_state")
        ),
        sa.ForeignKeyConstraint(
            ["acknowledged_by"],
            ["users.id"],
            name=op.f("fk_alerts_acknowledged_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            name=op.f("fk_alerts_org_id_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "rule_id"],
            ["alert_rules.org_id", "alert_rules.id"],
            name=op.f("fk_alerts_org_id_rule_id_alert_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organizations.id"],
            name=op.f("fk_alerts_org_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by"],
            ["users.id"],
            name=op.f("fk_alerts_resolved_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_alerts")),
    )
    op.create_index(
        "ix_alerts_one_unresolved",
        "alerts",
        ["org_id", "rule_id", "customer_id"],
        unique=True,
        postgresql_where=sa.text("state <> 'resolved'"),
    )
    op.create_index(
        "ix_alerts_org_id_customer_id", "alerts", ["org_id", "customer_id"], unique=False
    )
    op.create_index("ix_alerts_org_id_state", "alerts", ["org_id", "state"], unique=False)
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("org_id", sa.BigInteger(), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("destination_id", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "attempt_log",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "channel IN ('webhook', 'email')", name=op.f("ck_alert_deliveries_channel")
        ),
        sa.CheckConstraint(
            "purpose IN ('alert', 'escalation')", name=op.f("ck_alert_deliveries_purpose")
        ),
        sa.CheckConstraint(
            "state IN ('pending', 'delivered', 'failed')", name=op.f("ck_alert_deliveries_state")
        ),
        sa.ForeignKeyConstraint(
            ["org_id", "alert_id"],
            ["alerts.org_id", "alerts.id"],
            name=op.f("fk_alert_deliveries_org_id_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("org_id", "id", name=op.f("pk_alert_deliveries")),
        sa.UniqueConstraint(
            "org_id",
            "alert_id",
            "purpose",
            "channel",
            "target",
            name=op.f("uq_alert_deliveries_org_id_alert_id_purpose_channel_target"),
        ),
    )
    op.create_index(
        "ix_alert_deliveries_due",
        "alert_deliveries",
        ["org_id", "next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("state = 'pending'"),
    )
    for table in TENANT_TABLES:
        for statement in row_security_sql(table):
            op.execute(statement)


def downgrade() -> None:
    for table in reversed(TENANT_TABLES):
        for statement in drop_row_security_sql(table):
            op.execute(statement)
    op.drop_index(
        "ix_alert_deliveries_due",
        table_name="alert_deliveries",
        postgresql_where=sa.text("state = 'pending'"),
    )
    op.drop_table("alert_deliveries")
    op.drop_index("ix_alerts_org_id_state", table_name="alerts")
    op.drop_index("ix_alerts_org_id_customer_id", table_name="alerts")
    op.drop_index(
        "ix_alerts_one_unresolved",
        table_name="alerts",
        postgresql_where=sa.text("state <> 'resolved'"),
    )
    op.drop_table("alerts")
    op.drop_index("ix_alert_rule_states_org_id_customer_id", table_name="alert_rule_states")
    op.drop_table("alert_rule_states")
    op.drop_table("alert_destinations")
    op.drop_table("alert_rules")
