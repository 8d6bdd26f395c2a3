"""Bodies of the transaction routes (limits and the sign rule from spendlens.models.rules)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from spendlens.kit.dates import UtcDatetime, supported_instant, to_utc
from spendlens.kit.money import Money
from spendlens.models.rules import (
    AMOUNT_DIGITS,
    AMOUNT_PLACES,
    CATEGORY_LENGTH,
    CURRENCY_CODE_PATTERN,
    DESCRIPTION_LENGTH,
    EXTERNAL_ID_LENGTH,
    MAX_QUANTITY,
    TransactionKind,
    amount_sign_problem,
)


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("occurred_at needs a timezone (e.g. 2026-01-31T12:00:00Z)")
    return value


AwareDatetime = Annotated[
    datetime, AfterValidator(_aware), AfterValidator(supported_instant), AfterValidator(to_utc)
]
AmountIn = Annotated[Decimal, Field(max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)]
Category = Annotated[str, Field(min_length=1, max_length=CATEGORY_LENGTH)]
Description = Annotated[str, Field(max_length=DESCRIPTION_LENGTH)]
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
Currency = Annotated[str, Field(pattern=CURRENCY_CODE_PATTERN)]
ExternalId = Annotated[str, Field(min_length=1, max_length=EXTERNAL_ID_LENGTH)]


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
    problem = amount_sign_problem(kind, amount)
    if problem:
        raise ValueError(problem)


class TransactionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1)
    merchant_id: int | None = Field(default=None, ge=1)
    occurred_at: AwareDatetime
    amount: AmountIn
    currency: Currency | None = Field(
        default=None, description="Defaults to the organisation's currency"
    )
    category: Category
    description: Description = ""
    quantity: Quantity = 1
    kind: TransactionKind = TransactionKind.purchase
    external_id: ExternalId | None = None

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
    currency: Currency | None = None
    category: Category | None = None
    description: Description | None = None
    quantity: Quantity | None = None
    kind: TransactionKind | None = None
    external_id: ExternalId | None = None
