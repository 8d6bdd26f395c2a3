"""Bodies of the health routes."""

from __future__ import annotations

import math
from datetime import date
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendlens.health.definitions import (
    COMPONENT_NAMES,
    WEIGHT_SUM_TOLERANCE,
    Band,
)
from spendlens.kit.dates import Day, UtcDatetime
from spendlens.kit.pagination import Page


class BandThresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    healthy: float = Field(ge=0, le=100, description="Lowest score of the healthy band")
    at_risk: float = Field(
        ge=0, le=100, description="Lowest score of the at-risk band; below it: critical"
    )

    @model_validator(mode="after")
    def _ordered(self) -> BandThresholds:
        if not self.at_risk < self.healthy:
            raise ValueError("bands.at_risk must be below bands.healthy")
        return self


class HealthSettingsUpdate(BaseModel):
    """Every weight ≥ 0 (components left out weigh 0), summing to 1; both band thresholds."""

    model_config = ConfigDict(extra="forbid")

    weights: dict[str, float] = Field(
        description="Component name → weight (≥ 0); together they sum to 1; a component left "
        "out weighs 0. Names: " + ", ".join(f"`{name}`" for name in COMPONENT_NAMES)
    )
    bands: BandThresholds

    @field_validator("weights")
    @classmethod
    def _weights(cls, weights: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(weights) - set(COMPONENT_NAMES))
        if unknown:
            raise ValueError(
                f"unknown component(s) {', '.join(unknown)}; the components are "
                f"{', '.join(COMPONENT_NAMES)}"
            )
        for name, weight in weights.items():
            if not math.isfinite(weight) or weight < 0:
                raise ValueError(f"the weight of {name} must be a number ≥ 0")
        total = sum(weights.values())
        if abs(total - 1) > WEIGHT_SUM_TOLERANCE:
            raise ValueError(f"the weights must sum to 1; they sum to {total:g}")
        return {name: float(weights.get(name, 0.0)) for name in COMPONENT_NAMES}


class HealthSettingsOut(BaseModel):
    version: int = Field(description="Bumped by every change; 0 = never set (the defaults)")
    weights: dict[str, float] = Field(description="Every component's weight, summing to 1")
    bands: BandThresholds
    updated_at: UtcDatetime | None
    updated_by: int | None = Field(description="User id of the admin who set this version")


class ComponentOut(BaseModel):
    name: str
    value: float | None = Field(description="The raw measure (null: no data, skipped)")
    normalized: float | None = Field(description="0–1, higher is healthier (null: skipped)")
    weight: float = Field(
        description="The weight applied: the configured weight renormalised over the components "
        "with data (0 when skipped)"
    )
    configured_weight: float = Field(description="The weight in the settings version")
    contribution: float = Field(description="100 × weight × normalized; they sum to the score")


class HistoryPoint(BaseModel):
    as_of: date
    score: float
    band: Band
    settings_version: int
    computed_at: UtcDatetime


class Projection(BaseModel):
    as_of: date = Field(description="30 days after the latest score's day")
    score: float = Field(description="The fitted line there, clipped to 0–100")
    lower: float | None = Field(description="95% prediction interval, clipped (null: n < 3)")
    upper: float | None


class HealthTrend(BaseModel):
    points: int = Field(description="Stored scores in the 90 days up to the latest one")
    slope_per_day: float | None = Field(
        description="Least-squares slope of score on day, in points per day (null: < 2 days)"
    )
    projection: Projection | None = Field(description="null with fewer than 2 points")


class CustomerHealthOut(BaseModel):
    customer_id: int
    score: float | None = Field(
        description="null: not scored in the latest computation (none yet, or no data)"
    )
    band: Band | None
    as_of: date | None
    components: list[ComponentOut]
    settings_version: int | None
    computed_at: UtcDatetime | None
    history: list[HistoryPoint] = Field(description="Stored scores, oldest first")
    trend: HealthTrend


class BandCount(BaseModel):
    band: Band
    customers: int
    share: float = Field(description="customers / scored customers, 4 decimals")


class HistogramBin(BaseModel):
    lower: float = Field(description="Inclusive")
    upper: float = Field(description="Exclusive, except 100 in the last bin")
    customers: int


class AtRiskCustomer(BaseModel):
    customer_id: int
    external_id: str | None
    name: str
    email: str | None
    score: float
    band: Band
    previous_score: float | None = Field(description="In the previous computation (null: none)")
    change: float | None = Field(description="score − previous_score")


class HealthOverview(BaseModel):
    as_of: date | None = Field(description="Day of the latest computation (null: none yet)")
    computed_at: UtcDatetime | None
    settings_version: int | None
    customers: int = Field(description="Customers scored")
    unscored: int = Field(description="Customers without data for any weighted component")
    bands: list[BandCount]
    distribution: list[HistogramBin]
    at_risk: Page[AtRiskCustomer] = Field(description="At risk and critical customers")


class AtRiskSort(str, Enum):
    score_asc = "score"
    score_desc = "-score"
    change_asc = "change"
    change_desc = "-change"
    name_asc = "name"
    name_desc = "-name"


class RecomputeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: Day | None = Field(default=None, description="Day to compute; default today (UTC)")
