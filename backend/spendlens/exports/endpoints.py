"""HTTP routes of /api/v1/exports: customers and merchants as CSV, the organisation as JSON."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from spendlens.auth.dependencies import AnalystUser, CurrentOrg, CurrentUser
from spendlens.customers.filters import CustomerFiltersDep
from spendlens.db import StreamConnectionDep
from spendlens.errors import error_responses
from spendlens.kit.downloads import attachment
from spendlens.exports import service
from spendlens.kit.streaming import DatabaseStreamingResponse

router = APIRouter(prefix="/exports", tags=["exports"])


class CustomerExtra(str, Enum):
    """Optional column groups of the customers CSV."""

    clv = "clv"


@router.get(
    "/customers.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV of the filtered customers"},
        **error_responses(401, 422),
    },
)
def export_customers_csv(
    user: CurrentUser,
    org: CurrentOrg,
    filters: CustomerFiltersDep,
    connect: StreamConnectionDep,
    include: Annotated[
        list[CustomerExtra] | None,
        Query(description="`clv`: add the columns of the latest CLV fit"),
    ] = None,
) -> StreamingResponse:
    """The customers matching the list's filters, with totals, as streamed CSV (by external id).

    The columns are the native customers import layout (`external_id, name, email, country,
    signup_date, lifecycle_stage`) plus `total_spend, transaction_count, first_purchase,
    last_purchase` in the base currency, which an import ignores. With `include=clv`, also
    `expected_purchases, p_alive, expected_spend, clv` from the latest CLV fit (empty for a
    customer without an estimate; see `/clv/fits` for the fit's horizons). Cells that a
    spreadsheet would run as a formula are prefixed with `'`.
    """
    include_clv = CustomerExtra.clv in (include or ())
    return DatabaseStreamingResponse(
        service.customers_csv(connect, org.id, org.base_currency, filters, include_clv=include_clv),
        media_type="text/csv; charset=utf-8",
        headers=attachment("customers", "csv", org),
    )


@router.get(
    "/merchants.csv",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "CSV of the merchants"},
        **error_responses(401),
    },
)
def export_merchants_csv(
    user: CurrentUser, org: CurrentOrg, connect: StreamConnectionDep
) -> StreamingResponse:
    """Every merchant of the organisation as streamed CSV, by name: `name, default_category`,
    the native merchants import layout (`POST /imports` with `kind=merchants`). Cells that a
    spreadsheet would run as a formula are prefixed with `'`."""
    return DatabaseStreamingResponse(
        service.merchants_csv(connect, org.id),
        media_type="text/csv; charset=utf-8",
        headers=attachment("merchants", "csv", org),
    )


@router.get(
    "/organization.json",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/json": {}}, "description": "The whole organisation"},
        **error_responses(401, 403),
    },
)
def export_organization_json(
    user: AnalystUser, org: CurrentOrg, connect: StreamConnectionDep
) -> StreamingResponse:
    """The whole organisation as streamed JSON (analysts and admins).

    `{"format": "spendlens-org-export", "version": 1, "organization": {name, base_currency,
    timezone}, "customers": [...], "merchants": [...], "transactions": [...]}`, ordered by
    external id (merchants by name), customers and merchants referenced by external id and name,
    money as strings with two decimals, timestamps ISO 8601 in UTC. The `merchants`, `customers`
    and `transactions` lists import as they are with `POST /imports` (format `json`, the list's
    kind), in that order: exporting the copy then gives the same document.
    """
    return DatabaseStreamingResponse(
        service.organization_json(connect, org.id),
        media_type="application/json",
        headers=attachment("organization", "json", org),
    )
