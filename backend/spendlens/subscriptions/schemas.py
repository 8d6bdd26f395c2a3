"""Bodies of /api/v1/plans: money as `Money` (a string with two decimals in JSON)."""

from __future__ import annotations

from decimal import Decimal
from enum import Enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from spendlens.kit.dates import UtcDatetime
from spendlens.kit.money import Money
from spendlens.models.rules import (
    AMOUNT_DIGITS,
    AMOUNT_PLACES,
    CURRENCY_CODE_PATTERN,
    EXTERNAL_ID_LENGTH,
    NAME_LENGTH,
)


class PlanInterval(str, Enum):
    month = "month"
    year = "year"


class PlanIn(BaseModel):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_LENGTH)
    ]
    price: Annotated[Decimal, Field(ge=0, max_digits=AMOUNT_DIGITS, decimal_places=AMOUNT_PLACES)]
    currency: Annotated[str, Field(pattern=CURRENCY_CODE_PATTERN, description="ISO 4217, e.g. USD")]
    interval: PlanInterval
    plan_id: Annotated[
        str | None,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=EXTERNAL_ID_LENGTH),
        Field(description="Your id of the plan, as events name it (default: the name)"),
    ] = None


class PlanOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    plan_id: str = Field(description="Your id of the plan, as events name it")
    name: str
    price: Money | None = Field(description="Null for a plan named by events but not posted yet")
    currency: str | None
    interval: PlanInterval | None
    created_at: UtcDatetime
