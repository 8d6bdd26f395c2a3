"""SQL over events, always within one organisation.

Ingest is set-based: a batch travels to PostgreSQL as one JSON document per statement and is
unpacked there with `jsonb_to_recordset`, so 1,000 events cost a handful of round trips, not
1,000. Rows are written in a stable order (by external id, by event id) so that concurrent
batches naming the same customers or events wait for each other instead of deadlocking.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select, text
from sqlalchemy.orm import Session

from spendlens.models import Customer, Event
from spendlens.models.rules import LifecycleStage

# Which of a batch's customers exist, and which of the events of the others the organisation
# has stored already (a customer that does not exist may still have had events: never in this
# application, which deletes no customer, but a duplicate must not create anyone); the events
# of existing customers need no look-up, the insert tells their duplicates apart. One round
# trip. Each value is looked up in the index on its own (the OFFSET 0 keeps the planner from
# turning 1,000 index probes into a scan of the whole table, which it prices lower while the
# table is small and which costs ten times more).
_LOOKUP = text("""
    WITH found AS (
        SELECT wanted.external_id, c.id
        FROM unnest(CAST(:external_ids AS text[])) AS wanted(external_id)
        CROSS JOIN LATERAL (
            SELECT c.id FROM customers c
            WHERE c.org_id = :org_id AND c.external_id = wanted.external_id OFFSET 0
        ) AS c
    )
    SELECT external_id AS key, id AS customer_id FROM found
    UNION ALL
    SELECT newcomer.event_id::text, NULL::bigint
    FROM (
        SELECT sent.event_id
        FROM unnest(CAST(:event_ids AS uuid[]), CAST(:event_customers AS text[]))
            AS sent(event_id, external_id)
        WHERE NOT EXISTS (SELECT 1 FROM found f WHERE f.external_id = sent.external_id)
        OFFSET 0
    ) AS newcomer
    CROSS JOIN LATERAL (
        SELECT 1 FROM event_ids k
        WHERE k.org_id = :org_id AND k.event_id = newcomer.event_id OFFSET 0
    ) AS seen
    """)

_CREATE_CUSTOMERS = text("""
    INSERT INTO customers (org_id, external_id, name, email, signup_date, lifecycle_stage)
    SELECT :org_id, w.external_id, w.name, w.email, w.signup_date, :stage
    FROM jsonb_to_recordset(CAST(:customers AS jsonb))
        AS w(external_id text, name text, email text, signup_date date)
    ORDER BY w.external_id
    ON CONFLICT (org_id, external_id) DO NOTHING
    RETURNING id, external_id
    """)

_FIND_CUSTOMERS = text(
    "SELECT id, external_id FROM customers "
    "WHERE org_id = :org_id AND external_id = ANY(CAST(:external_ids AS text[]))"
)

# The registry takes each event id once (first sending wins); only the ids it took are stored.
_INSERT_EVENTS = text("""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:events AS jsonb))
            AS e(event_id uuid, customer_id bigint, type text, occurred_at timestamptz,
                 properties jsonb)
    ),
    registered AS (
        INSERT INTO event_ids (org_id, event_id, occurred_at)
        SELECT :org_id, event_id, occurred_at FROM input ORDER BY event_id
        ON CONFLICT DO NOTHING
        RETURNING event_id
    )
    INSERT INTO events (org_id, event_id, customer_id, type, occurred_at, properties)
    SELECT :org_id, i.event_id, i.customer_id, i.type, i.occurred_at, i.properties
    FROM input i JOIN registered r ON r.event_id = i.event_id
    ORDER BY i.occurred_at
    RETURNING event_id::text
    """)


@dataclass(frozen=True)
class NewCustomer:
    """What a customer created by their first event starts with."""

    external_id: str
    name: str
    email: str | None
    signup_date: str  # ISO date


def lookup(
    session: Session, org_id: int, events: list[tuple[str, str]], external_ids: list[str]
) -> tuple[set[str], dict[str, int]]:
    """Of `events` ((event id, customer's external id) pairs), the ids the organisation has
    stored already among those of customers that do not exist; and the ids of the customers of
    `external_ids` that exist."""
    rows = session.execute(
        _LOOKUP,
        {
            "org_id": org_id,
            "event_ids": [event_id for event_id, _ in events],
            "event_customers": [external_id for _, external_id in events],
            "external_ids": external_ids,
        },
    ).all()
    known = {key for key, customer_id in rows if customer_id is None}
    customers = {key: customer_id for key, customer_id in rows if customer_id is not None}
    return known, customers


def create_customers(
    session: Session, org_id: int, wanted: Sequence[NewCustomer], dumps
) -> tuple[dict[str, int], set[int]]:
    """Create the wanted customers as leads: ids by external id of all of them, and the ids of
    those this call created (another batch may have created some meanwhile)."""
    payload = dumps(
        [
            {
                "external_id": c.external_id,
                "name": c.name,
                "email": c.email,
                "signup_date": c.signup_date,
            }
            for c in wanted
        ]
    )
    rows = session.execute(
        _CREATE_CUSTOMERS,
        {"customers": payload, "org_id": org_id, "stage": LifecycleStage.lead.value},
    ).all()
    ids = {external_id: customer_id for customer_id, external_id in rows}
    created = set(ids.values())
    missing = [c.external_id for c in wanted if c.external_id not in ids]
    if missing:
        # Created by a concurrent batch (that committed while this statement waited for it).
        found = session.execute(_FIND_CUSTOMERS, {"org_id": org_id, "external_ids": missing})
        ids.update({external_id: customer_id for customer_id, external_id in found})
    return ids, created


def insert_events(session: Session | Connection, org_id: int, payload: str) -> set[str]:
    """Store the events of `payload` (a JSON array of records) whose ids are new to the
    organisation; the ids stored (canonical UUID text)."""
    rows = session.execute(_INSERT_EVENTS, {"events": payload, "org_id": org_id}).scalars()
    return set(rows)


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventFilters:
    types: tuple[str, ...] = ()
    customer_id: int | None = None
    customer: str | None = None  # external id
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive


def _conditions(org_id: int, filters: EventFilters) -> list[Any]:
    conditions: list[Any] = [Event.org_id == org_id]
    if filters.types:
        conditions.append(Event.type.in_(filters.types))
    if filters.customer_id is not None:
        conditions.append(Event.customer_id == filters.customer_id)
    if filters.customer is not None:
        conditions.append(
            Event.customer_id.in_(
                select(Customer.id).where(
                    Customer.org_id == org_id, Customer.external_id == filters.customer
                )
            )
        )
    if filters.start is not None:
        conditions.append(Event.occurred_at >= filters.start)
    if filters.end is not None:
        conditions.append(Event.occurred_at < filters.end)
    return conditions


def _with_customer(*columns) -> Select:
    return (
        select(*columns)
        .select_from(Event)
        .join(Customer, (Customer.org_id == Event.org_id) & (Customer.id == Event.customer_id))
    )


def count(session: Session, org_id: int, filters: EventFilters) -> int:
    query = select(func.count()).select_from(Event).where(*_conditions(org_id, filters))
    return session.execute(query).scalar_one()


def list_page(
    session: Session, org_id: int, filters: EventFilters, *, skip: int, limit: int
) -> list[tuple[Event, str | None]]:
    """Newest first (ties by event id, so pages are stable)."""
    query = (
        _with_customer(Event, Customer.external_id)
        .where(*_conditions(org_id, filters))
        .order_by(Event.occurred_at.desc(), Event.event_id.desc())
        .offset(skip)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query).all()]


def customer_exists(session: Session, org_id: int, customer_id: int) -> bool:
    query = select(Customer.id).where(Customer.org_id == org_id, Customer.id == customer_id)
    return session.execute(query).first() is not None
