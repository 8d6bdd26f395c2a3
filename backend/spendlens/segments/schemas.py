"""Bodies of the segments routes: money as `Money` (a string with two decimals in JSON)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from enum import Enum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from spendlens.kit.money import Money
from spendlens.segments.definitions import Segment
from spendlens.kit.dates import Day, UtcDatetime

Score = Annotated[int, Field(ge=1, le=5)]
SnapshotSource = Literal["stored", "computed"]


def _strictly_ascending(values: list) -> list:
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ValueError("cut points must be strictly ascending")
    return values


RecencyCuts = Annotated[
    list[Annotated[int, Field(ge=0, le=100_000)]],
    Field(min_length=4, max_length=4),
    AfterValidator(_strictly_ascending),
]
FrequencyCuts = Annotated[
    list[Annotated[int, Field(ge=1, le=1_000_000_000)]],
    Field(min_length=4, max_length=4),
    AfterValidator(_strictly_ascending),
]
MonetaryCuts = Annotated[
    list[Annotated[Decimal, Field(max_digits=14, decimal_places=2)]],
    Field(min_length=4, max_length=4),
    AfterValidator(_strictly_ascending),
]


class RfmSettingsUpdate(BaseModel):
    """All three dimensions, each 4 strictly ascending cut points or null for quantiles."""

    model_config = ConfigDict(extra="forbid")

    recency: RecencyCuts | None = Field(
        description="Days; recency scores 5 up to and including the first, …, 1 above the fourth"
    )
    frequency: FrequencyCuts | None = Field(
        description="Purchases; frequency scores 1 up to and including the first, …, 5 above"
    )
    monetary: MonetaryCuts | None = Field(
        description="Net spend; monetary scores 1 up to and including the first, …, 5 above"
    )


class ScoringMethod(str, Enum):
    quantile = "quantile"
    cut_points = "cut_points"


class RfmSettingsOut(BaseModel):
    version: int = Field(description="Bumped by every change; 0 = never set (all quantiles)")
    recency: list[int] | None
    frequency: list[int] | None
    monetary: list[Money] | None
    methods: dict[str, ScoringMethod] = Field(
        description="How each of recency, frequency, monetary is scored"
    )
    updated_at: UtcDatetime | None
    updated_by: int | None = Field(description="User id of the admin who set this version")


class SegmentSummary(BaseModel):
    segment: Segment
    label: str
    description: str
    customers: int
    share: float = Field(description="customers / all scored customers, 4 decimals")
    revenue: Money = Field(description="Sum of the segment's monetary values (net spend)")
    revenue_share: float = Field(description="revenue / all revenue, 4 decimals")
    average_recency_days: float | None = Field(description="2 decimals; null when empty")
    average_frequency: float | None
    average_monetary: Money | None
    average_r_score: float | None
    average_f_score: float | None
    average_m_score: float | None


class SegmentsOverview(BaseModel):
    as_of: date
    source: SnapshotSource = Field(
        description="`stored`: a snapshot computed earlier; `computed`: computed for this call"
    )
    settings_version: int
    currency: str
    customers: int = Field(description="Customers with RFM as of that day")
    revenue: Money
    segments: list[SegmentSummary] = Field(description="Every segment, best first, even empty")


class GridSegment(BaseModel):
    segment: Segment
    customers: int


class GridCell(BaseModel):
    recency_score: Score
    frequency_score: Score
    customers: int = Field(description="Customers with this R and this F score")
    share: float = Field(description="customers / all scored customers, 4 decimals")
    revenue: Money = Field(description="Sum of their monetary values (net spend)")
    segment: Segment | None = Field(
        description=(
            "The segment most of the cell's customers are in (ties: the better segment); "
            "null in an empty cell"
        )
    )
    segments: list[GridSegment] = Field(
        description="Customers of the cell per segment, best segment first (M varies in a cell)"
    )


class SegmentGrid(BaseModel):
    as_of: date
    source: SnapshotSource = Field(
        description="`stored`: a snapshot computed earlier; `computed`: computed for this call"
    )
    settings_version: int
    currency: str
    customers: int = Field(description="Customers with RFM as of that day")
    revenue: Money
    cells: list[GridCell] = Field(
        description="All 25 cells, even empty: recency score 5 … 1, then frequency score 1 … 5"
    )


class SegmentMove(BaseModel):
    from_segment: Segment | None = Field(description="null: no RFM on `from` (a new customer)")
    to_segment: Segment | None = Field(description="null: no RFM on `to` any more")
    customers: int


class SegmentMovement(BaseModel):
    from_date: date
    to_date: date
    from_source: SnapshotSource
    to_source: SnapshotSource
    from_settings_version: int
    to_settings_version: int
    moves: list[SegmentMove] = Field(description="Every (from, to) pair with customers, in order")


class RfmSort(str, Enum):
    monetary_desc = "-monetary"
    monetary_asc = "monetary"
    frequency_desc = "-frequency"
    frequency_asc = "frequency"
    recency_asc = "recency"
    recency_desc = "-recency"
    name_asc = "name"
    name_desc = "-name"


class CustomerRfm(BaseModel):
    """A customer's RFM as of a day."""

    model_config = ConfigDict(from_attributes=True)

    as_of: date
    recency_days: int = Field(description="Days from the last purchase to as_of")
    frequency: int = Field(description="Purchases up to as_of")
    monetary: Money = Field(description="Net spend up to as_of")
    r_score: int
    f_score: int
    m_score: int
    segment: Segment
    segment_label: str
    settings_version: int


class CustomerRfmOut(CustomerRfm):
    customer_id: int
    external_id: str | None
    name: str
    email: str | None


class SnapshotOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    as_of: date
    settings_version: int
    customers: int
    computed_at: UtcDatetime
    job_id: int | None


class RecomputeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    as_of: Day | None = Field(
        default=None, description="Day to compute; default today in the organisation's time zone"
    )
