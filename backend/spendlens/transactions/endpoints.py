"""HTTP routes of /api/v1/transactions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import StreamingResponse

from spendlens.auth.dependencies import AnalystUser, CurrentOrg, CurrentUser, OrgScope
from spendlens.db import SessionDep, StreamConnectionDep
from spendlens.errors import error_responses
from spendlens.kit.downloads import attachment
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.kit.streaming import DatabaseStreamingResponse
from spendlens.transactions import service
from spendlens.transactions.filters import FiltersDep
from spendlens.transactions.schemas import (
    TransactionCreate,
    TransactionOut,
    TransactionSort,
    TransactionUpdate,
)

router = APIRouter(prefix="/transactions", tags=["transactions"])


@router.get("", response_model=Page[TransactionOut], responses=error_responses(401, 422))
def list_transactions(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    filters: FiltersDep,
    page: PaginationDep,
    sort: Annotated[
        TransactionSort, Query(description="`date`, `-date`, `amount` or `-amount`")
    ] = TransactionSort.date_desc,
) -> Page[TransactionOut]:
    """List the organisation's transactions, filtered, sorted and paginated."""
    items, total = service.list_transactions(
        session, org_id, filters, sort=sort, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get(
    "/export.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV of the filtered transactions"},
        **error_responses(401, 422),
    },
)
def export_transactions_csv(
    user: CurrentUser,
    org: CurrentOrg,
    filters: FiltersDep,
    connect: StreamConnectionDep,
    sort: Annotated[TransactionSort, Query()] = TransactionSort.date_desc,
) -> StreamingResponse:
    """Every transaction matching the filters as streamed CSV (formula injection neutralised)."""
    return DatabaseStreamingResponse(
        service.export_csv_lines(connect, org.id, filters, sort),
        media_type="text/csv; charset=utf-8",
        headers=attachment("transactions", "csv", org),
    )


@router.get(
    "/{transaction_id}", response_model=TransactionOut, responses=error_responses(401, 404, 422)
)
def get_transaction(
    transaction_id: int, user: CurrentUser, org_id: OrgScope, session: SessionDep
) -> TransactionOut:
    """One transaction of the organisation."""
    return service.get_transaction(session, org_id, transaction_id)


@router.post(
    "",
    response_model=TransactionOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_transaction(
    body: TransactionCreate, user: AnalystUser, org: CurrentOrg, session: SessionDep
) -> TransactionOut:
    """Record a transaction (analysts and admins)."""
    return service.create_transaction(session, org, body)


@router.patch(
    "/{transaction_id}",
    response_model=TransactionOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_transaction(
    transaction_id: int,
    body: TransactionUpdate,
    user: AnalystUser,
    org_id: OrgScope,
    session: SessionDep,
) -> TransactionOut:
    """Change fields of a transaction (analysts and admins)."""
    return service.update_transaction(session, org_id, transaction_id, body)


@router.delete(
    "/{transaction_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=error_responses(401, 403, 404, 422),
)
def delete_transaction(
    transaction_id: int, user: AnalystUser, org_id: OrgScope, session: SessionDep
) -> Response:
    """Delete a transaction (analysts and admins)."""
    service.delete_transaction(session, org_id, transaction_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
