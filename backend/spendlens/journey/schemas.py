"""Request and response bodies of /api/v1/journey and /api/v1/customers/{id}/stages."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field

from spendlens.journey.rules import MAX_CHURN_AFTER_DAYS
from spendlens.kit.dates import UtcDatetime
from spendlens.metrics.schemas import Interval
from spendlens.models.rules import LifecycleStage

FlowStage = Literal["new", "lead", "prospect", "customer", "churned"]


class JourneySettingsUpdate(BaseModel):
    churn_after_days: int = Field(
        ge=1,
        le=MAX_CHURN_AFTER_DAYS,
        description="Days after the latest successful payment at which a customer churns",
    )


class JourneySettingsOut(BaseModel):
    churn_after_days: int
    updated_at: UtcDatetime | None = None
    updated_by: int | None = Field(default=None, description="The admin who set it (user id)")
    rebuild_job_id: int | None = Field(
        default=None,
        description="The `journey` job rebuilding every customer's stages after a change",
    )


class StageIntervalOut(BaseModel):
    stage: LifecycleStage
    valid_from: UtcDatetime
    valid_to: UtcDatetime | None = Field(description="Excluded; null: the current interval")
    reactivation: bool = Field(description="A customer interval that followed churned")


class CustomerStagesOut(BaseModel):
    customer_id: int
    stage: LifecycleStage | None = Field(description="The derived stage now; null: no events")
    pending: bool = Field(description="Events arrived that the history does not show yet")
    first_seen_at: UtcDatetime | None
    prospect_at: UtcDatetime | None
    customer_at: UtcDatetime | None
    reactivations: int
    items: list[StageIntervalOut]


class StageCount(BaseModel):
    stage: LifecycleStage
    customers: int
    share: float = Field(description="customers ÷ total, 4 decimals")


class StagesOut(BaseModel):
    as_of: UtcDatetime
    total: int
    stages: list[StageCount]


class StagesTimeseriesPoint(BaseModel):
    period_start: date
    as_of: date = Field(description="The UTC day at whose end the customers are counted")
    days: int = Field(description="Days of the period inside the range")
    partial: bool = Field(description="The range covers only part of the period")
    lead: int
    prospect: int
    customer: int
    churned: int
    total: int


class StagesTimeseries(BaseModel):
    interval: Interval
    start: date
    end: date
    points: list[StagesTimeseriesPoint]


class FunnelStepOut(BaseModel):
    stage: LifecycleStage
    customers: int
    conversion: float | None = Field(
        description="customers ÷ the previous step's customers (4 decimals); null for the first "
        "step or when the previous step has none"
    )
    conversion_from_lead: float | None = Field(description="customers ÷ leads (4 decimals)")
    median_seconds: float | None = Field(description="Median time from first seen to the step")
    p90_seconds: float | None = Field(description="90th percentile of that time")


class FunnelOut(BaseModel):
    start: date
    end: date
    within_days: int | None
    steps: list[FunnelStepOut]


class FlowNode(BaseModel):
    side: Literal["start", "end"]
    stage: FlowStage
    customers: int


class FlowLink(BaseModel):
    from_stage: FlowStage = Field(description='The stage at `start`, "new": not a customer yet')
    to_stage: LifecycleStage
    customers: int


class FlowsOut(BaseModel):
    start: UtcDatetime
    end: UtcDatetime
    total: int = Field(description="Customers at `end`: the sum of either side's nodes")
    nodes: list[FlowNode]
    links: list[FlowLink]
