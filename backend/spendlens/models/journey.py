"""The customer journey derived from events: each customer's stage history as intervals, their
milestones (for the funnel), the customers waiting for a rebuild, the per-organisation setting,
and the daily rollups (stage counts and transitions) the time series answers from.

The rules that fill them are spendlens.journey.rules; the rebuild job is spendlens.journey.job.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    false,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models import rules
from spendlens.models.base import Base

_STAGES = rules.sql_values(rules.LifecycleStage)
# A transition's origin may also be "new": the customer did not exist at the end of the day before.
NEW = "new"


def _customer_fk() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
    )


def _org_fk() -> ForeignKey:
    return ForeignKey("organizations.id", ondelete="CASCADE")


class JourneySettings(Base):
    """Per organisation: after how many days without a successful payment a customer churns.
    No row: the default (spendlens.journey.rules.DEFAULT_CHURN_AFTER_DAYS)."""

    __tablename__ = "journey_settings"
    __table_args__ = (
        CheckConstraint("churn_after_days BETWEEN 1 AND 3650", name="churn_after_days_range"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, _org_fk(), primary_key=True)
    churn_after_days: Mapped[int] = mapped_column(Integer, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    updated_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )


class CustomerStage(Base):
    """One interval of a customer's stage history: [valid_from, valid_to), valid_to null for the
    current one. A churn deadline's interval may begin in the future."""

    __tablename__ = "customer_stages"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "customer_id", "valid_from"),
        _customer_fk(),
        CheckConstraint(f"stage IN ({_STAGES})", name="stage"),
        CheckConstraint("valid_to IS NULL OR valid_to > valid_from", name="valid_range"),
        CheckConstraint("NOT reactivation OR stage = 'customer'", name="reactivation_customer"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, _org_fk(), nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    valid_to: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(String(rules.STAGE_LENGTH), nullable=False)
    reactivation: Mapped[bool] = mapped_column(
        Boolean, nullable=False, default=False, server_default=false()
    )


class CustomerMilestones(Base):
    """When a customer first appeared, first reached prospect and first became a customer."""

    __tablename__ = "customer_milestones"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "customer_id"),
        _customer_fk(),
        Index("ix_customer_milestones_org_id_first_seen_at", "org_id", "first_seen_at"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, _org_fk(), nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    prospect_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    customer_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reactivations: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class JourneyPending(Base):
    """Customers whose events changed since their stages were last rebuilt (the ingest adds them,
    the `journey` job takes them). No foreign key to customers: its check was most of the
    ingest's cost of marking 1,000 customers, and a deleted customer's mark is harmless (the
    job finds no events and no stages, and takes the mark away)."""

    __tablename__ = "journey_pending"
    __table_args__ = (PrimaryKeyConstraint("org_id", "customer_id"),)

    org_id: Mapped[int] = mapped_column(BigInteger, _org_fk(), nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    queued_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


class JourneyDailyTransition(Base):
    """Rollup: how many customers' stage at the end of `day` (UTC) differs from their stage at the
    end of the day before (`from_stage` "new": they did not exist yet), per pair of stages."""

    __tablename__ = "journey_daily_transitions"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "day", "from_stage", "to_stage"),
        CheckConstraint(f"from_stage IN ('{NEW}', {_STAGES})", name="from_stage"),
        CheckConstraint(f"to_stage IN ({_STAGES})", name="to_stage"),
        CheckConstraint("customers >= 0", name="customers_not_negative"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, _org_fk(), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    from_stage: Mapped[str] = mapped_column(String(rules.STAGE_LENGTH), nullable=False)
    to_stage: Mapped[str] = mapped_column(String(rules.STAGE_LENGTH), nullable=False)
    customers: Mapped[int] = mapped_column(Integer, nullable=False)


class JourneyDailyStage(Base):
    """Rollup: customers per stage at the end of `day` (UTC), every stage, every day from the
    organisation's first transition to its last (later days equal the last one)."""

    __tablename__ = "journey_daily_stages"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "day", "stage"),
        CheckConstraint(f"stage IN ({_STAGES})", name="stage"),
        CheckConstraint("customers >= 0", name="customers_not_negative"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, _org_fk(), nullable=False)
    day: Mapped[date] = mapped_column(Date, nullable=False)
    stage: Mapped[str] = mapped_column(String(rules.STAGE_LENGTH), nullable=False)
    customers: Mapped[int] = mapped_column(Integer, nullable=False)
