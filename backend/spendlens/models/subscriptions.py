"""Subscriptions kept in step with the events that name them: plans, shops, invoices, payments.

Plans are posted by an analyst (or first named by an event, then completed by a post); shops,
invoices and payments are written by event ingest only (spendlens.events.subscriptions).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Numeric,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from spendlens.models import rules
from spendlens.models.base import Base, TimestampMixin

PLAN_INTERVALS = ("month", "year")
PAYMENT_STATUSES = ("succeeded", "failed")
INVOICE_STATUSES = ("open", "paid", "failed")


def _values(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{v}'" for v in values)


class Plan(TimestampMixin, Base):
    """A plan an organisation sells. `plan_id` is the organisation's own id for it (what events
    name); a plan first named by an event has no price yet until it is posted."""

    __tablename__ = "plans"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "name"),
        UniqueConstraint("org_id", "plan_id"),
        CheckConstraint(f"interval IN ({_values(PLAN_INTERVALS)})", name="interval"),
        CheckConstraint(f"currency ~ '{rules.CURRENCY_CODE_PATTERN}'", name="currency_code"),
        CheckConstraint("price >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    plan_id: Mapped[str] = mapped_column(String(rules.EXTERNAL_ID_LENGTH), nullable=False)
    name: Mapped[str] = mapped_column(String(rules.NAME_LENGTH), nullable=False)
    price: Mapped[Decimal | None] = mapped_column(Numeric(rules.AMOUNT_DIGITS, rules.AMOUNT_PLACES))
    currency: Mapped[str | None] = mapped_column(String(rules.CURRENCY_CODE_LENGTH))
    interval: Mapped[str | None] = mapped_column(String(8))


class Shop(Base):
    """A customer's shop: created and deleted by events, on the plan last selected for it."""

    __tablename__ = "shops"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "shop_id"),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["org_id", "plan_id"], ["plans.org_id", "plans.id"]),
        Index("ix_shops_org_customer", "org_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    shop_id: Mapped[str] = mapped_column(String(rules.EXTERNAL_ID_LENGTH), nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    plan_id: Mapped[int | None] = mapped_column(BigInteger)
    # When the plan now on the shop was chosen: a plan chosen earlier, arriving late, loses.
    plan_selected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Null while only a later event (a deletion, a plan change) has named the shop.
    created_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Invoice(Base):
    """An invoice named by payment events: paid once a payment for it succeeded."""

    __tablename__ = "invoices"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        UniqueConstraint("org_id", "invoice_id"),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        CheckConstraint(f"status IN ({_values(INVOICE_STATUSES)})", name="status"),
        Index("ix_invoices_org_customer", "org_id", "customer_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    invoice_id: Mapped[str] = mapped_column(String(rules.EXTERNAL_ID_LENGTH), nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    amount: Mapped[Decimal] = mapped_column(
        Numeric(rules.AMOUNT_DIGITS, rules.AMOUNT_PLACES), nullable=False
    )
    currency: Mapped[str] = mapped_column(String(rules.CURRENCY_CODE_LENGTH), nullable=False)
    status: Mapped[str] = mapped_column(String(8), nullable=False)
    issued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class Payment(Base):
    """One payment attempt, from a payment_succeeded or payment_failed event. A successful one is
        also a transaction (kind purchase, category "Subscription"), written with it, whose external
    id is the payment's event id."""

    __tablename__ = "payments"
    __table_args__ = (
        PrimaryKeyConstraint("org_id", "id"),
        # A succeeded payment has the organisation's payment id; a failed attempt may not.
        UniqueConstraint("org_id", "payment_id"),
        UniqueConstraint("org_id", "event_id"),
        ForeignKeyConstraint(
            ["org_id", "customer_id"], ["customers.org_id", "customers.id"], ondelete="CASCADE"
        ),
        CheckConstraint(f"status IN ({_values(PAYMENT_STATUSES)})", name="status"),
        CheckConstraint(f"currency ~ '{rules.CURRENCY_CODE_PATTERN}'", name="currency_code"),
        Index("ix_payments_org_customer_occurred", "org_id", "customer_id", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity())
    org_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("organizations.id", ondelete="CASCADE"), nullable=False
    )
    payment_id: Mapped[str | None] = mapped_column(String(rules.EXTERNAL_ID_LENGTH))
    event_id: Mapped[uuid.UUID] = mapped_column(Uuid, nullable=False)
    customer_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    invoice_id: Mapped[str | None] = mapped_column(String(rules.EXTERNAL_ID_LENGTH))
    status: Mapped[str] = mapped_column(String(16), nullable=False)
    amount: Mapped[Decimal] = mapped_column(
        Numeric(rules.AMOUNT_DIGITS, rules.AMOUNT_PLACES), nullable=False
    )
    currency: Mapped[str] = mapped_column(String(rules.CURRENCY_CODE_LENGTH), nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
