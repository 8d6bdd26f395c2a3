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

from spendlens.models.base import Base, TimestampMixin

LIFECYCLE_STAGES = ("lead", "prospect", "customer", "churned")


class Customer(TimestampMixin, Base):
    __tablename__ = "customers"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "external_id"),
        CheckConstraint(
            "lifecycle_stage IN ('lead', 'prospect', 'customer', 'churned')",
            name="lifecycle_stage",
        ),
        Index("ix_customers_org_id_name", "org_id", "name"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    external_id: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    email: Mapped[str | None] = mapped_column(String(320))
    country: Mapped[str | None] = mapped_column(String(2))
    signup_date: Mapped[date | None] = mapped_column(Date)
    lifecycle_stage: Mapped[str] = mapped_column(String(16), nullable=False, default="customer")


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
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    default_category: Mapped[str | None] = mapped_column(String(100))
