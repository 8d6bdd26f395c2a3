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

from spendlens.models.base import Base, TimestampMixin
from spendlens.models.rules import (
    AMOUNT_DIGITS,
    AMOUNT_PLACES,
    CATEGORY_LENGTH,
    CURRENCY_CODE_LENGTH,
    CURRENCY_CODE_PATTERN,
    DEFAULT_KIND,
    EXTERNAL_ID_LENGTH,
    KIND_LENGTH,
    TransactionKind,
    amount_sign_sql,
    sql_values,
)


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
        CheckConstraint(f"kind IN ({sql_values(TransactionKind)})", name="kind"),
        CheckConstraint(amount_sign_sql(), name="amount_sign"),
        CheckConstraint(f"currency ~ '{CURRENCY_CODE_PATTERN}'", name="currency_code"),
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
    amount: Mapped[Decimal] = mapped_column(Numeric(AMOUNT_DIGITS, AMOUNT_PLACES), nullable=False)
    currency: Mapped[str] = mapped_column(String(CURRENCY_CODE_LENGTH), nullable=False)
    category: Mapped[str] = mapped_column(String(CATEGORY_LENGTH), nullable=False)
    description: Mapped[str] = mapped_column(Text, nullable=False, default="")
    quantity: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    kind: Mapped[str] = mapped_column(
        String(KIND_LENGTH), nullable=False, default=DEFAULT_KIND.value
    )
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH))
