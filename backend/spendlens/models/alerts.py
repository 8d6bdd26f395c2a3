"""Alerts: rules per organisation and where they send, the alerts they raise, whether each
rule's condition held per customer at the last evaluation, and one delivery record per alert and
destination (see spendlens.alerts)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin

RULE_KINDS = ("health_drop", "entered_critical", "churn_probability", "spend_drop")
SEVERITIES = ("critical", "warning")
ALERT_STATES = ("open", "acknowledged", "resolved")
CHANNELS = ("webhook", "email")
PURPOSES = ("alert", "escalation")
DELIVERY_STATES = ("pending", "delivered", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AlertRule(TimestampMixin, Base):
    """A condition on a customer's signals, how loud it is and who hears of it."""

    __tablename__ = "alert_rules"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "name"),
        CheckConstraint(_in("kind", RULE_KINDS), name="kind"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        CheckConstraint("cooldown_minutes >= 0", name="cooldown_not_negative"),
        CheckConstraint(
            "escalation_minutes IS NULL OR escalation_minutes > 0", name="escalation_positive"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    # Per kind: {"points"}, {}, {"probability"}, {"days", "percent"}.
    params: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, server_default=text("true"))
    cooldown_minutes: Mapped[int] = mapped_column(Integer, nullable=False)
    escalation_minutes: Mapped[int | None] = mapped_column(Integer)
    escalation_emails: Mapped[list[str]] = mapped_column(
        ARRAY(Text), nullable=False, server_default=text("'{}'")
    )
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )


class AlertDestination(TimestampMixin, Base):
    """Where a rule's alerts go: a webhook (with the secret that signs its deliveries) or an
    email address."""

    __tablename__ = "alert_destinations"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "rule_id", "channel", "target"),
        ForeignKeyConstraint(
            ["org_id", "rule_id"], ["alert_rules.org_id", "alert_rules.id"], ondelete="CASCADE"
        ),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint("channel <> 'webhook' OR secret IS NOT NULL", name="webhook_secret"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    rule_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    # The webhook's URL or the email address.
    target: Mapped[str] = mapped_column(Text, nullable=False)
    # Kept as is: every delivery is signed with it (never shown again after it is set).
    secret: Mapped[str | None] = mapped_column(Text)


class Alert(Base):
    """One problem of one customer under one rule, from raised to resolved."""

    __tablename__ = "alerts"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        ForeignKeyConstraint(
            ["org_id", "rule_id"], ["alert_rules.org_id", "alert_rules.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        CheckConstraint(_in("state", ALERT_STATES), name="state"),
        CheckConstraint(_in("severity", SEVERITIES), name="severity"),
        # One problem, one alert: never two unresolved alerts of a rule for a customer.
        Index(
            "ix_alerts_one_unresolved",
            "org_id",
            "rule_id",
            "customer_id",
            unique=True,
            postgresql_where=text("state <> 'resolved'"),
        ),
        Index("ix_alerts_org_id_customer_id", "org_id", "customer_id"),
        Index("ix_alerts_org_id_state", "org_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    rule_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    severity: Mapped[str] = mapped_column(String(16), nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default="open")
    message: Mapped[str] = mapped_column(Text, nullable=False)
    # The signal values that crossed the rule.
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolved_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class AlertRuleState(Base):
    """Whether a rule's condition held for a customer at the last evaluation, and whether it
    has cleared since the customer's last alert under the rule (a resolved alert is raised again
    only then)."""

    __tablename__ = "alert_rule_states"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "rule_id", "customer_id"),
        ForeignKeyConstraint(
            ["org_id", "rule_id"], ["alert_rules.org_id", "alert_rules.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        Index("ix_alert_rule_states_org_id_customer_id", "org_id", "customer_id"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    rule_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    condition_held: Mapped[bool] = mapped_column(Boolean, nullable=False)
    cleared_since_alert: Mapped[bool] = mapped_column(Boolean, nullable=False)
    last_alert_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class AlertDelivery(Base):
    """One alert sent (or being sent) to one destination: attempts, the last outcome, when the
    next retry is due, and a short log of every attempt."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "alert_id", "purpose", "channel", "target"),
        ForeignKeyConstraint(
            ["org_id", "alert_id"], ["alerts.org_id", "alerts.id"], ondelete="CASCADE"
        ),
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("purpose", PURPOSES), name="purpose"),
        CheckConstraint(_in("state", DELIVERY_STATES), name="state"),
        Index(
            "ix_alert_deliveries_due",
            "org_id",
            "next_attempt_at",
            postgresql_where=text("state = 'pending'"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    alert_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    # The rule's destination it was made for (no key: a destination removed since then
    # ends the delivery); null for escalation emails, which are addresses of the rule.
    destination_id: Mapped[int | None] = mapped_column(BigInteger)
    purpose: Mapped[str] = mapped_column(String(16), nullable=False)
    channel: Mapped[str] = mapped_column(String(16), nullable=False)
    target: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str] = mapped_column(String(16), nullable=False, server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # [{"at", "status", "error"}] per attempt, oldest first.
    attempt_log: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, nullable=False, server_default=text("'[]'::jsonb")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )
