"""Bodies of the customer routes: money as `Money` (a string with two decimals in JSON)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from spendlens.clv.schemas import CustomerClv
from spendlens.kit.dates import Day, UtcDatetime
from spendlens.kit.money import Money
from spendlens.models.rules import (
    COUNTRY_CODE_PATTERN,
    DEFAULT_STAGE,
    EXTERNAL_ID_LENGTH,
    NAME_LENGTH,
    LifecycleStage,
)
from spendlens.segments.schemas import CustomerRfm
from spendlens.transactions.schemas import TransactionOut

Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH)
]
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=EXTERNAL_ID_LENGTH)
]
Country = Annotated[
    str, Field(pattern=COUNTRY_CODE_PATTERN, description="ISO 3166-1 alpha-2, e.g. US")
]


class CustomerSort(str, Enum):
    name_asc = "name"
    name_desc = "-name"
    signup_asc = "signup"
    signup_desc = "-signup"
    total_spend_asc = "total_spend"
    total_spend_desc = "-total_spend"
    last_purchase_asc = "last_purchase"
    last_purchase_desc = "-last_purchase"
    # From the latest CLV fit (spendlens.clv); customers without an estimate come last.
    clv_asc = "clv"
    clv_desc = "-clv"
    p_alive_asc = "p_alive"
    p_alive_desc = "-p_alive"
    # From the latest health computation (spendlens.health); customers without a score last.
    health_score_asc = "health_score"
    health_score_desc = "-health_score"


class CustomerOut(BaseModel):
    """A customer's profile and spending totals in the organisation's base currency."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    external_id: str | None
    name: str
    email: str | None
    country: str | None
    signup_date: date | None
    lifecycle_stage: LifecycleStage
    total_spend: Money = Field(
        description="Net sum of amounts in the base currency: refunds subtract"
    )
    transaction_count: int = Field(description="Number of purchases in the base currency")
    first_purchase: UtcDatetime | None = Field(description="Time of the first purchase (UTC)")
    last_purchase: UtcDatetime | None = Field(description="Time of the latest purchase (UTC)")


class CustomerListItem(CustomerOut):
    """A customer of the list: the profile and totals, with the latest RFM segment and CLV."""

    segment: str | None = Field(
        default=None, description="RFM segment in the latest stored snapshot (null: none)"
    )
    clv: Money | None = Field(
        default=None, description="Expected lifetime value from the latest CLV fit (null: none)"
    )
    p_alive: float | None = Field(
        default=None, description="Probability of being alive from the latest CLV fit"
    )
    health_score: float | None = Field(
        default=None, description="0–100 in the latest health computation (null: not scored)"
    )
    health_band: str | None = Field(
        default=None,
        description="`healthy`, `at_risk` or `critical` in the latest health computation",
    )


class MonthlySpend(BaseModel):
    month: date = Field(description="First day of the UTC calendar month")
    total_spend: Money
    transaction_count: int


class CustomerDetail(CustomerOut):
    monthly_spend: list[MonthlySpend] = Field(
        description="Every month from the customer's first to last transaction, empty ones zero"
    )
    recent_transactions: list[TransactionOut] = Field(description="The latest 10, newest first")
    rfm: CustomerRfm | None = Field(
        description="RFM in the organisation's latest stored snapshot; null when not in it"
    )
    clv: CustomerClv | None = Field(
        default=None, description="From the latest CLV fit; null without one or an estimate"
    )


class CustomerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = None
    name: Name
    email: EmailStr | None = None
    country: Country | None = None
    signup_date: Day | None = None
    lifecycle_stage: LifecycleStage = DEFAULT_STAGE


class CustomerUpdate(BaseModel):
    """Only the fields sent change; `external_id`, `email`, `country`, `signup_date` can be null."""

    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = None
    name: Name | None = None
    email: EmailStr | None = None
    country: Country | None = None
    signup_date: Day | None = None
    lifecycle_stage: LifecycleStage | None = None


class CustomerDeleted(BaseModel):
    deleted_customer: int
    deleted_transactions: int
