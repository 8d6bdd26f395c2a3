"""Transactions: one purchase or refund by a customer, money as numeric, time in UTC."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models import rules
from spendlens.models.base import Base, TimestampMixin


class Transaction(TimestampMixin, Base):
    __tablename__ = "transactions"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "external_id"),
        ForeignKeyConstraint(
            ["org_id", "customer_id"],
            ["customers.org_id", "customers.id"],
            ondelete="CASCADE",
        ),
        ForeignKeyConstraint(
            ["org_id", "merchant_id"],
            ["merchants.org_id", "merchants.id"],
            ondelete="RESTRICT",
        ),
        CheckConstraint(f"kind IN ({rules.sql_values(rules.TransactionKind)})", name="kind"),
        CheckConstraint(rules.amount_sign_sql(), name="amount_sign"),
        CheckConstraint(f"currency ~ '{rules.CURRENCY_CODE_PATTERN}'", name="currency_code"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # Covering: the metrics aggregate a period straight from the index (index-only scan)
        # instead of visiting a heap page per transaction.
        Index(
            "ix_transactions_org_occurred",
            "org_id",
            "occurred_at",
            postgresql_include=["amount", "kind", "customer_id", "currency", "category"],
        ),
        # Covering, so per-customer aggregates (RFM, totals, CLV) are index-only scans in
        # customer order (bench/README.md, "Customer analytics").
        Index(
            "ix_transactions_org_customer_occurred",
            "org_id",
            "customer_id",
            "occurred_at",
            postgresql_include=["amount", "kind", "currency"],
        ),
        Index("ix_transactions_org_merchant_occurred", "org_id", "merchant_id", "occurred_at"),
        Index("ix_transactions_org_category_occurred", "org_id", "category", "occurred_at"),
        Index("ix_transactions_org_amount", "org_id", "amount"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    merchant_id: Mapped[int | None] = mapped_column(BigInteger)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    amount: Mapped[Decimal] = mapped_column(
        Numeric(rules.AMOUNT_DIGITS, rules.AMOUNT_PLACES), nullable=False
    )
    currency: Mapped[str] = mapped_column(String(rules.CURRENCY_CODE_LENGTH), nullable=False)
    category: Mapped[str] = mapped_column(String(rules.CATEGORY_LENGTH), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    kind: Mapped[str] = mapped_column(
        String(rules.KIND_LENGTH), nullable=False, default=rules.DEFAULT_KIND.value
    )
    external_id: Mapped[str | None] = mapped_column(String(rules.EXTERNAL_ID_LENGTH))
