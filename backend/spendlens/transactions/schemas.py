"""Bodies of the transaction routes."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from spendlens.kit.money import Money


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("occurred_at needs a timezone (e.g. 2026-01-31T12:00:00Z)")
    return value


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


AwareDatetime = Annotated[datetime, AfterValidator(_aware), AfterValidator(_utc)]
# Timestamps leave the API in UTC whatever the database session's time zone.
UtcDatetime = Annotated[datetime, AfterValidator(_utc)]
AmountIn = Annotated[Decimal, Field(max_digits=14, decimal_places=2)]


class TransactionKind(str, Enum):
    purchase = "purchase"
    refund = "refund"


class TransactionSort(str, Enum):
    date_desc = "-date"
    date_asc = "date"
    amount_desc = "-amount"
    amount_asc = "amount"


class TransactionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    customer_id: int
    customer_name: str | None = None
    merchant_id: int | None
    merchant: str | None = None
    occurred_at: UtcDatetime
    amount: Money
    currency: str
    category: str
    description: str
    quantity: int
    kind: TransactionKind
    external_id: str | None


def check_amount_sign(kind: TransactionKind, amount: Decimal) -> None:
    if kind is TransactionKind.purchase and amount <= 0:
        raise ValueError("a purchase needs a positive amount")
    if kind is TransactionKind.refund and amount >= 0:
        raise ValueError("a refund needs a negative amount")


class TransactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1)
    merchant_id: int | None = Field(default=None, ge=1)
    occurred_at: AwareDatetime
    amount: AmountIn
    currency: str | None = Field(
        default=None, pattern=r"^[A-Z]{3}$", description="Defaults to the organisation's currency"
    )
    category: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    quantity: int = Field(default=1, ge=1, le=1_000_000)
    kind: TransactionKind = TransactionKind.purchase
    external_id: str | None = Field(default=None, min_length=1, max_length=100)

    @model_validator(mode="after")
    def _sign_matches_kind(self) -> "TransactionCreate":
        check_amount_sign(self.kind, self.amount)
        return self


class TransactionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int | None = Field(default=None, ge=1)
    merchant_id: int | None = Field(default=None, ge=1)
    occurred_at: AwareDatetime | None = None
    amount: AmountIn | None = None
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    category: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=1000)
    quantity: int | None = Field(default=None, ge=1, le=1_000_000)
    kind: TransactionKind | None = None
    external_id: str | None = Field(default=None, min_length=1, max_length=100)
