"""Event ingest and the event lists.

`ingest` checks each event on its own, drops ids already seen (in the batch or before), creates
unknown customers as leads, stores the new events, and keeps subscriptions (plans, shops,
invoices, payments and the payment transactions) in step with them: a handful of set-based
statements per batch. It answers, per event, stored / duplicate / rejected, and which customers'
event histories changed from when (`IngestResult.touched`), for whatever derives from the event
log (lifecycle stages) to rebuild from there on.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time as clock_time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from spendlens.errors import NotFound, PayloadTooLarge
from spendlens.events import metrics, repository
from spendlens.events.repository import EventFilters, NewCustomer
from spendlens.events.schemas import EventOut, EventStatus
from spendlens.kit import fastjson
from spendlens.health import service as health
from spendlens.journey import service as journey
from spendlens.events.validation import (
    MAX_EVENTS_PER_BATCH,
    Invalid,
    ValidEvent,
    metric_type,
    validate_event,
)
from spendlens.subscriptions import repository as subscriptions

SHOP_TYPES = frozenset({"shop_created", "plan_selected", "shop_deleted"})
PAYMENT_TYPES = frozenset({"payment_succeeded", "payment_failed"})


def _dumps(value: Any) -> str:
    return fastjson.dumps(value, default=str)


@dataclass(slots=True)
class EventOutcome:
    """What became of one sent event (a plain class: a batch makes 1,000 of them)."""

    index: int
    event_id: str | None
    status: EventStatus
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "event_id": self.event_id,
            "status": self.status.value,
            "reason": self.reason,
        }


@dataclass
class IngestResult:
    """The answer to one batch, in the batch's order, and what changed.

    `touched` maps each customer with newly stored events to the earliest `occurred_at` among
    them: everything derived from a customer's events from that instant on is out of date.
    """

    results: list[EventOutcome]
    touched: dict[int, datetime] = field(default_factory=dict)
    created_customers: set[int] = field(default_factory=set)

    def count(self, status: EventStatus) -> int:
        return sum(1 for r in self.results if r.status is status)


def _raw_event_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("event_id"), str):
        return raw["event_id"][:100]
    return None


def _new_customers(events: list[ValidEvent], unknown: set[str]) -> list[NewCustomer]:
    """Each customer of `unknown` as created by `events`: named and dated by their `signed_up`
    (the earliest one), else by their external id and first event."""
    first: dict[str, ValidEvent] = {}
    signup: dict[str, ValidEvent] = {}
    for event in events:
        if event.customer not in unknown:
            continue
        known = first.get(event.customer)
        if known is None or event.occurred_at < known.occurred_at:
            first[event.customer] = event
        if event.type == "signed_up":
            known = signup.get(event.customer)
            if known is None or event.occurred_at < known.occurred_at:
                signup[event.customer] = event
    wanted = []
    for external_id in sorted(first):
        origin = signup.get(external_id, first[external_id])
        name = (origin.fields.get("name") or "").strip() or external_id
        wanted.append(
            NewCustomer(
                external_id=external_id,
                name=name,
                email=origin.fields.get("email"),
                signup_date=origin.occurred_at.astimezone(UTC).date().isoformat(),
            )
        )
    return wanted


def _events_payload(events: list[ValidEvent], customer_ids: dict[str, int]) -> str:
    # Built by hand from parts that are already JSON (the properties were serialised when they
    # were checked; ids, types and times need no escaping), which is several times faster than
    # serialising 1,000 dicts again.
    parts = [
        '{"event_id":"%s","customer_id":%d,"type":"%s","occurred_at":"%s","properties":%s}'
        % (
            e.event_id,
            customer_ids[e.customer],
            e.type,
            e.occurred_at.isoformat(),
            e.properties_json,
        )
        for e in events
    ]
    return "[" + ",".join(parts) + "]"


def _keep_subscriptions_in_step(
    session: Session, org_id: int, stored: list[ValidEvent], customer_ids: dict[str, int]
) -> None:
    shop_rows, payment_rows, invoice_rows, plan_ids = [], [], [], []
    for event in stored:
        customer_id = customer_ids[event.customer]
        if event.type in SHOP_TYPES:
            plan_id = event.fields.get("plan_id")
            if plan_id is not None:
                plan_ids.append(plan_id)
            shop_rows.append(
                {
                    "shop_id": event.fields["shop_id"],
                    "customer_id": customer_id,
                    "type": event.type,
                    "occurred_at": event.occurred_at.isoformat(),
                    "plan_id": plan_id,
                }
            )
        elif event.type in PAYMENT_TYPES:
            named_plan = event.properties.get("plan_id")
            row = {
                "event_id": event.event_id,
                "customer_id": customer_id,
                "type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "payment_id": event.fields.get("payment_id"),
                "invoice_id": event.fields.get("invoice_id"),
                "amount": str(event.fields["amount"]),
                "currency": event.fields["currency"],
                "reason": event.fields.get("reason"),
                "plan_id": named_plan if isinstance(named_plan, str) else None,
            }
            payment_rows.append(row)
            if row["invoice_id"] is not None:
                invoice_rows.append(row)
    if plan_ids:
        subscriptions.ensure_plans(session, org_id, plan_ids)
    if shop_rows:
        subscriptions.upsert_shops(session, org_id, _dumps(shop_rows))
    if payment_rows:
        subscriptions.record_payments(session, org_id, _dumps(payment_rows))
    if invoice_rows:
        subscriptions.upsert_invoices(session, org_id, _dumps(invoice_rows))


def ingest(session: Session, org_id: int, raw_events: list[Any]) -> IngestResult:
    """Store a batch of sent events for the organisation (see the module docstring)."""
    started = time.perf_counter()
    if len(raw_events) > MAX_EVENTS_PER_BATCH:
        raise PayloadTooLarge(
            f"At most {MAX_EVENTS_PER_BATCH} events per request; this one has {len(raw_events)}"
        )
    results: list[EventOutcome | None] = [None] * len(raw_events)
    outcomes: Counter[tuple[str, str]] = Counter()
    candidates: list[ValidEvent] = []
    in_batch: set[str] = set()
    for index, raw in enumerate(raw_events):
        try:
            event = validate_event(index, raw)
        except Invalid as reason:
            results[index] = EventOutcome(
                index=index,
                event_id=_raw_event_id(raw),
                status=EventStatus.rejected,
                reason=str(reason),
            )
            outcomes[
                (metric_type(raw.get("type") if isinstance(raw, dict) else None), "rejected")
            ] += 1
            continue
        if event.event_id in in_batch:
            results[index] = EventOutcome(
                index=index, event_id=event.event_id, status=EventStatus.duplicate
            )
            outcomes[(metric_type(event.type), "duplicate")] += 1
            continue
        in_batch.add(event.event_id)
        candidates.append(event)

    touched: dict[int, datetime] = {}
    created: set[int] = set()
    stored_ids: set[str] = set()
    if candidates:
        # Ids already stored are found among the events of customers that do not exist (whose
        # duplicates must not create them again); the others are told apart by the insert.
        known, customer_ids = repository.lookup(
            session,
            org_id,
            [(e.event_id, e.customer) for e in candidates],
            list({e.customer for e in candidates}),
        )
        fresh = [e for e in candidates if e.event_id not in known]
        unknown = {e.customer for e in fresh} - customer_ids.keys()
        if unknown:
            new_ids, created = repository.create_customers(
                session, org_id, _new_customers(fresh, unknown), _dumps
            )
            customer_ids.update(new_ids)
        if fresh:
            stored_ids = repository.insert_events(
                session, org_id, _events_payload(fresh, customer_ids)
            )
            stored = [e for e in fresh if e.event_id in stored_ids]
            _keep_subscriptions_in_step(session, org_id, stored, customer_ids)
            for event in stored:
                customer_id = customer_ids[event.customer]
                earliest = touched.get(customer_id)
                if earliest is None or event.occurred_at < earliest:
                    touched[customer_id] = event.occurred_at
    for event in candidates:
        status = EventStatus.stored if event.event_id in stored_ids else EventStatus.duplicate
        results[event.index] = EventOutcome(
            index=event.index, event_id=event.event_id, status=status
        )
        outcomes[(metric_type(event.type), status.value)] += 1

    if touched:
        # Stages are derived by the journey's job, queued here with the stored events.
        journey.stages_changed(session.connection(), org_id, touched)
        # Health reads the event log too: one recompute waits per organisation, however many
        # batches arrive meanwhile.
        health.queue_recompute_once(session.connection(), org_id, trigger="events")
    metrics.observe_batch(outcomes, time.perf_counter() - started)
    return IngestResult(
        results=[r for r in results if r is not None],
        touched={cid: moment.astimezone(UTC) for cid, moment in touched.items()},
        created_customers=created,
    )


# --- reading ----------------------------------------------------------------------------------


def parse_bound(value: str | None, *, end: bool) -> datetime | None:
    """A list filter's bound: an ISO date (a UTC day: from its start, or through its end) or
    an ISO date and time with an offset."""
    if value is None:
        return None
    value = value.strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            if end:
                day += timedelta(days=1)
            return datetime.combine(day, clock_time.min, tzinfo=UTC)
        moment = datetime.fromisoformat(value)
    except (ValueError, OverflowError):
        raise Invalid("must be an ISO 8601 date or a date and time with a UTC offset")
    if moment.tzinfo is None:
        raise Invalid("a date and time needs a UTC offset (such as Z or +02:00)")
    return moment


def _event_out(event, external_id: str | None) -> EventOut:
    return EventOut(
        event_id=event.event_id,
        customer_id=event.customer_id,
        customer=external_id,
        type=event.type,
        occurred_at=event.occurred_at,
        received_at=event.received_at,
        properties=event.properties,
    )


def list_events(
    session: Session, org_id: int, filters: EventFilters, *, skip: int, limit: int
) -> tuple[list[EventOut], int]:
    total = repository.count(session, org_id, filters)
    rows = repository.list_page(session, org_id, filters, skip=skip, limit=limit)
    return [_event_out(event, external_id) for event, external_id in rows], total


def customer_timeline(
    session: Session, org_id: int, customer_id: int, filters: EventFilters, *, skip: int, limit: int
) -> tuple[list[EventOut], int]:
    if not repository.customer_exists(session, org_id, customer_id):
        raise NotFound("Customer not found")
    scoped = replace(filters, customer_id=customer_id, customer=None)
    return list_events(session, org_id, scoped, skip=skip, limit=limit)
