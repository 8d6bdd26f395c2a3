"""Customers whose spending is analysed, and the merchants they buy from."""

from __future__ import annotations

from datetime import date

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    ForeignKey,
    Identity,
    Index,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models import rules
from spendlens.models.base import Base, TimestampMixin


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "external_id"),
        CheckConstraint(
            f"lifecycle_stage IN ({rules.sql_values(rules.LifecycleStage)})", name="lifecycle_stage"
        ),
        Index("ix_customers_org_id_name", "org_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    external_id: Mapped[str | None] = mapped_column(String(rules.EXTERNAL_ID_LENGTH))
    name: Mapped[str] = mapped_column(String(rules.NAME_LENGTH), nullable=False)
    email: Mapped[str | None] = mapped_column(String(rules.EMAIL_LENGTH))
    country: Mapped[str | None] = mapped_column(String(rules.COUNTRY_CODE_LENGTH))
    signup_date: Mapped[date | None] = mapped_column(Date)
    lifecycle_stage: Mapped[str] = mapped_column(
        String(rules.STAGE_LENGTH), nullable=False, default=rules.DEFAULT_STAGE.value
    )


class Merchant(TimestampMixin, Base):
    __tablename__ = "merchants"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    name: Mapped[str] = mapped_column(String(rules.NAME_LENGTH), nullable=False)
    default_category: Mapped[str | None] = mapped_column(String(rules.CATEGORY_LENGTH))
