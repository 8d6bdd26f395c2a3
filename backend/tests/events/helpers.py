"""Builders of sent events and a row count of every table ingest may write."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

EVENTS = "/api/v1/events"
# Every table event ingest writes to (or might, by mistake).
INGEST_TABLES = (
    "events",
    "event_ids",
    "customers",
    "plans",
    "shops",
    "invoices",
    "payments",
    "transactions",
)


def event(
    type_: str,
    customer: str,
    occurred_at: str,
    properties: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "type": type_,
        "occurred_at": occurred_at,
        "customer": customer,
        "properties": properties or {},
    }


def post(client, headers, events: list[dict[str, Any]]):
    return client.post(EVENTS, json={"events": events}, headers=headers)


def row_counts(session: Session, org_id: int) -> dict[str, int]:
    session.flush()
    return {
        table: session.execute(
            text(f"SELECT count(*) FROM {table} WHERE org_id = :org"), {"org": org_id}
        ).scalar_one()
        for table in INGEST_TABLES
    }


def table_snapshot(session: Session, org_id: int, table: str) -> list[tuple]:
    """Every row of `table` for the organisation, in a stable order, as tuples."""
    return [
        tuple(row)
        for row in session.execute(
            text(f"SELECT * FROM {table} WHERE org_id = :org ORDER BY 1, 2, 3"), {"org": org_id}
        )
    ]
