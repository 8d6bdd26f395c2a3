"""HTTP routes of /api/v1/events, /api/v1/customers/{id}/events and /api/v1/ingest-keys."""

from __future__ import annotations

import json
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Response, status

from spendlens.auth.dependencies import AdminUser, CurrentUser, EventWriter
from spendlens.db import SessionDep
from spendlens.errors import Unprocessable, error_responses
from spendlens.events import keys, service
from spendlens.events.repository import EventFilters
from spendlens.events.schemas import (
    EventBatch,
    EventOut,
    EventStatus,
    IngestKeyCreated,
    IngestKeyIn,
    IngestKeyOut,
    IngestOut,
)
from spendlens.events.validation import Invalid
from spendlens.kit.fastjson import JsonRoute
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.models.events import EVENT_TYPE_LENGTH
from spendlens.models.rules import EXTERNAL_ID_LENGTH

# Bodies parsed by orjson (with json.loads's meaning): a batch of 1,000 events is most of a
# request's parsing.
router = APIRouter(tags=["events"], route_class=JsonRoute)

BIGINT_MAX = 2**63 - 1

TypeFilter = Annotated[
    list[str] | None,
    Query(
        alias="type",
        description="Only events of these types (repeatable)",
        max_length=50,
    ),
]
BOUND_HELP = (
    "an ISO date (a UTC day) or a date and time with a UTC offset; `start` is inclusive, `end` "
    "exclusive for a time and takes in the whole day for a date"
)


def _types(values: list[str] | None) -> tuple[str, ...]:
    values = values or []
    for value in values:
        if not value or len(value) > EVENT_TYPE_LENGTH:
            raise Unprocessable(
                f"a type has 1 to {EVENT_TYPE_LENGTH} characters", loc=("query", "type")
            )
    return tuple(values)


def _bound(value: str | None, *, end: bool) -> object:
    try:
        return service.parse_bound(value, end=end)
    except Invalid as err:
        raise Unprocessable(str(err), loc=("query", "end" if end else "start"))


@router.post(
    "/events",
    response_model=IngestOut,
    responses=error_responses(401, 403, 413, 422),
)
def ingest_events(body: EventBatch, writer: EventWriter, session: SessionDep) -> Response:
    """Store a batch of up to 1,000 events (analysts, admins and ingest keys); the answer says
    per event: stored, duplicate or rejected with a reason."""
    result = service.ingest(session, writer.org_id, body.events)
    answer = {
        "stored": result.count(EventStatus.stored),
        "duplicate": result.count(EventStatus.duplicate),
        "rejected": result.count(EventStatus.rejected),
        "results": result.results,  # dataclasses with IngestOut's EventResult fields, in order
    }
    # Built from plain values the service made (the shape of IngestOut, which documents it):
    # validating 1,000 results again would cost more than storing them.
    try:
        content = orjson.dumps(answer)
    except orjson.JSONEncodeError:
        # A rejected event's id or reason echoes text orjson will not write (a lone surrogate):
        # the standard library escapes it.
        answer["results"] = [outcome.as_dict() for outcome in result.results]
        content = json.dumps(answer, separators=(",", ":")).encode()
    return Response(content, media_type="application/json")


@router.get("/events", response_model=Page[EventOut], responses=error_responses(401, 403, 422))
def list_events(
    user: CurrentUser,
    session: SessionDep,
    page: PaginationDep,
    types: TypeFilter = None,
    customer_id: Annotated[
        int | None, Query(ge=1, le=BIGINT_MAX, description="Only this customer's events")
    ] = None,
    customer: Annotated[
        str | None,
        Query(max_length=EXTERNAL_ID_LENGTH, description="Only the events of this external id"),
    ] = None,
    start: Annotated[str | None, Query(max_length=40, description=BOUND_HELP)] = None,
    end: Annotated[str | None, Query(max_length=40, description=BOUND_HELP)] = None,
) -> Page[EventOut]:
    """The organisation's events, newest first, filtered by type, customer and time."""
    filters = EventFilters(
        types=_types(types),
        customer_id=customer_id,
        customer=customer,
        start=_bound(start, end=False),
        end=_bound(end, end=True),
    )
    items, total = service.list_events(
        session, user.org_id, filters, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get(
    "/customers/{customer_id}/events",
    response_model=Page[EventOut],
    responses=error_responses(401, 403, 404, 422),
)
def customer_events(
    customer_id: int,
    user: CurrentUser,
    session: SessionDep,
    page: PaginationDep,
    types: TypeFilter = None,
    start: Annotated[str | None, Query(max_length=40, description=BOUND_HELP)] = None,
    end: Annotated[str | None, Query(max_length=40, description=BOUND_HELP)] = None,
) -> Page[EventOut]:
    """One customer's event timeline, newest first, optionally of some types only."""
    filters = EventFilters(
        types=_types(types), start=_bound(start, end=False), end=_bound(end, end=True)
    )
    items, total = service.customer_timeline(
        session, user.org_id, customer_id, filters, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.post(
    "/ingest-keys",
    response_model=IngestKeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 422),
)
def create_ingest_key(body: IngestKeyIn, admin: AdminUser, session: SessionDep) -> IngestKeyCreated:
    """Create an ingest key (admins); its secret is in this answer only."""
    key, secret = keys.create(session, admin, body.name.strip() or body.name)
    return IngestKeyCreated.model_validate(
        {**IngestKeyOut.model_validate(key).model_dump(), "key": secret}
    )


@router.get(
    "/ingest-keys", response_model=Page[IngestKeyOut], responses=error_responses(401, 403, 422)
)
def list_ingest_keys(
    admin: AdminUser, session: SessionDep, page: PaginationDep
) -> Page[IngestKeyOut]:
    """The organisation's ingest keys, revoked ones included, newest first (admins)."""
    items, total = keys.list_keys(session, admin.org_id, skip=page.skip, limit=page.limit)
    return Page(
        items=[IngestKeyOut.model_validate(k) for k in items],
        total=total,
        skip=page.skip,
        limit=page.limit,
    )


@router.delete(
    "/ingest-keys/{key_id}",
    response_model=IngestKeyOut,
    responses=error_responses(401, 403, 404, 422),
)
def revoke_ingest_key(key_id: int, admin: AdminUser, session: SessionDep) -> IngestKeyOut:
    """Revoke an ingest key (admins): it authenticates nothing from now on."""
    return IngestKeyOut.model_validate(keys.revoke(session, admin.org_id, key_id))
