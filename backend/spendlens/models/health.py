"""Customer health: per-organisation weights and bands (versioned), each computation of every
customer's score as of a day, and the scores themselves (kept as history)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin

# Band slugs, best first (thresholds in health_settings.bands; spendlens.health.definitions).
HEALTH_BANDS = ("healthy", "at_risk", "critical")
BAND_LENGTH = 16


class HealthSettings(TimestampMixin, Base):
    """One version of an organisation's component weights and band thresholds; a change adds a
    version, so every computation's `settings_version` names exactly what it was scored with.
    No row at all is version 0: the documented defaults."""

    __tablename__ = "health_settings"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    # {component name: weight}, every component, summing to 1.
    weights: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    # {"healthy": lowest healthy score, "at_risk": lowest at-risk score}.
    bands: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )


class HealthComputation(Base):
    """One computation of every customer's health as of a day (its rows are the health_scores
    with its id); recomputing a day replaces the day's computation and its scores."""

    __tablename__ = "health_computations"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "as_of"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    settings_version: Mapped[int] = mapped_column(Integer, nullable=False)
    customers: Mapped[int] = mapped_column(Integer, nullable=False)
    unscored: Mapped[int] = mapped_column(Integer, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # The `jobs` row that computed it (not a foreign key: jobs may be cleaned up).
    job_id: Mapped[int | None] = mapped_column(BigInteger)


class HealthScore(Base):
    """A customer's health score, band and components in one computation."""

    __tablename__ = "health_scores"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "computation_id", "customer_id"),
        # No foreign key to health_computations: both are only ever written and deleted
        # together (spendlens.health.repository.store_computation), and the check would cost
        # a lookup per score written.
        ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint("score >= 0 AND score <= 100", name="score_range"),
        CheckConstraint(
            "band IN (" + ", ".join(f"'{band}'" for band in HEALTH_BANDS) + ")", name="band"
        ),
        Index("ix_health_scores_org_customer_as_of", "org_id", "customer_id", "as_of"),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    computation_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    score: Mapped[float] = mapped_column(Double, nullable=False)
    band: Mapped[str] = mapped_column(String(BAND_LENGTH), nullable=False)
    # {component name: {value, normalized, weight, contribution}} (null value: skipped).
    components: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False)
    settings_version: Mapped[int] = mapped_column(Integer, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
