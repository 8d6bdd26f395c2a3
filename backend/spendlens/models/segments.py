"""RFM segmentation: per-organisation scoring settings (versioned), snapshots and their scores."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models.base import Base, TimestampMixin

# Segment slugs in display order (best to worst); labels and the score grid are in
# spendlens.segments.definitions.
RFM_SEGMENTS = (
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lost",
)


def _four_or_null(column: str) -> str:
    return f"{column} IS NULL OR cardinality({column}) = 4"


class RfmSettings(TimestampMixin, Base):
    """One version of an organisation's scoring cut points; a change adds a version, so every
    snapshot's `settings_version` keeps pointing at exactly the cut points it was scored with.

    A null dimension is scored by quantile. No row at all is version 0: quantiles everywhere.
    """

    __tablename__ = "rfm_settings"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "version"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint(_four_or_null("recency_thresholds"), name="recency_four"),
        CheckConstraint(_four_or_null("frequency_thresholds"), name="frequency_four"),
        CheckConstraint(_four_or_null("monetary_thresholds"), name="monetary_four"),
    )

    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    recency_thresholds: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    frequency_thresholds: Mapped[list[int] | None] = mapped_column(ARRAY(Integer))
    monetary_thresholds: Mapped[list[Decimal] | None] = mapped_column(ARRAY(Numeric(14, 2)))
    created_by: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="SET NULL")
    )


class RfmSnapshot(Base):
    """One stored computation of every customer's RFM as of a day (its rows are the rfm_scores of
    the same org_id and as_of); recomputing the day replaces both."""

    __tablename__ = "rfm_snapshots"
    __table_args__ = (PrimaryKeyConstraint("org_id", "as_of"),)

    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    settings_version: Mapped[int] = mapped_column(Integer, nullable=False)
    customers: Mapped[int] = mapped_column(Integer, nullable=False)
    computed_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )
    # The `jobs` row that computed it (not a foreign key: jobs may be cleaned up).
    job_id: Mapped[int | None] = mapped_column(BigInteger)


class RfmScore(Base):
    """A customer's recency, frequency, monetary value, scores and segment as of a day."""

    __tablename__ = "rfm_scores"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "as_of", "customer_id"),
        # No foreign key to rfm_snapshots: checking it costs 0.6 s per 100,000 rows written, and
        # both are only ever written together (spendlens.segments.repository.store_snapshot).
        ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(
            "r_score BETWEEN 1 AND 5 AND f_score BETWEEN 1 AND 5 AND m_score BETWEEN 1 AND 5",
            name="scores_1_to_5",
        ),
        CheckConstraint("recency_days >= 0 AND frequency >= 1", name="recency_frequency"),
        CheckConstraint(
            "segment IN (" + ", ".join(f"'{s}'" for s in RFM_SEGMENTS) + ")", name="segment"
        ),
    )

    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    as_of: Mapped[date] = mapped_column(Date, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    recency_days: Mapped[int] = mapped_column(Integer, nullable=False)
    frequency: Mapped[int] = mapped_column(Integer, nullable=False)
    monetary: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False)
    r_score: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    f_score: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    m_score: Mapped[int] = mapped_column(SmallInteger, nullable=False)
    segment: Mapped[str] = mapped_column(String(32), nullable=False)
    settings_version: Mapped[int] = mapped_column(Integer, nullable=False)
