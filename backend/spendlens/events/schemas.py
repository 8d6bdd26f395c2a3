"""Bodies of the event routes: the batch sent to POST /events, its per-event answer, and events
as listed."""

from __future__ import annotations

import uuid
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from spendlens.events.validation import EVENT_TYPE_NAMES, MAX_EVENTS_PER_BATCH
from spendlens.kit.dates import UtcDatetime
from spendlens.models.events import INGEST_KEY_NAME_LENGTH


class EventBatch(BaseModel):
    # Elements are checked one by one in the service (any JSON value is answered per event).
    events: list[Any] = Field(
        description=(
            f"Up to {MAX_EVENTS_PER_BATCH} events, more answers 413. Each is "
            "`{event_id: UUID, type, occurred_at: ISO 8601 with offset, customer: external id, "
            f"properties: {{...}}}}`; `type` is one of {', '.join(EVENT_TYPE_NAMES)} or "
            "`custom.<name>` (README, Events)"
        ),
    )


class EventStatus(str, Enum):
    stored = "stored"
    duplicate = "duplicate"
    rejected = "rejected"


class EventResult(BaseModel):
    index: int = Field(description="Position of the event in the batch")
    event_id: str | None = Field(description="The event's id as sent (null if it had none)")
    status: EventStatus
    reason: str | None = Field(default=None, description="Why it was rejected")


class IngestOut(BaseModel):
    stored: int
    duplicate: int
    rejected: int
    results: list[EventResult]


class EventOut(BaseModel):
    event_id: uuid.UUID
    customer_id: int
    customer: str | None = Field(description="The customer's external id")
    type: str
    occurred_at: UtcDatetime
    received_at: UtcDatetime
    properties: dict[str, Any]


class IngestKeyIn(BaseModel):
    name: str = Field(
        min_length=1, max_length=INGEST_KEY_NAME_LENGTH, description="What the key is for"
    )


class IngestKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it by")
    created_by: int | None
    created_at: UtcDatetime
    revoked_at: UtcDatetime | None
    last_used_at: UtcDatetime | None


class IngestKeyCreated(IngestKeyOut):
    key: str = Field(
        description="The secret, shown this once: send it as `Authorization: Bearer <key>`"
    )
