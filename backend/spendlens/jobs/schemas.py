"""Bodies of the /jobs routes."""

from __future__ import annotations

from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, computed_field

from spendlens.kit.dates import UtcDatetime


class JobState(str, Enum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"


class JobProblem(BaseModel):
    """One problem in a job's input: which row (1 = the first record after the header), which
    column, the value found there and why it was refused."""

    row: int | None = None
    column: str | None = None
    value: str | None = None
    reason: str


class JobSummary(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    state: JobState
    processed: int = Field(description="Items done so far")
    total: int | None = Field(description="Items in all (null until known)")
    error_count: int = Field(description="Problems found in the input (all of them)")
    params: dict[str, Any] = Field(description="What the job was asked to do")
    created_by: int | None
    created_at: UtcDatetime
    started_at: UtcDatetime | None
    finished_at: UtcDatetime | None

    @computed_field(description="processed / total, from 0 to 1 (null while total is unknown)")
    @property
    def progress(self) -> float | None:
        if not self.total:
            return 1.0 if self.state == JobState.succeeded else None
        return round(min(1.0, self.processed / self.total), 4)


class JobOut(JobSummary):
    errors: list[JobProblem] = Field(description="The first 1,000 problems; error_count has all")
    result: dict[str, Any] | None = Field(description="What the job did, once finished")
    attempts: int = Field(description="How many times a worker started the job")
