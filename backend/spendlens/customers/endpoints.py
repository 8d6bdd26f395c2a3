"""HTTP routes of /api/v1/customers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from spendlens.auth.dependencies import AnalystUser, CurrentOrg, CurrentUser, OrgScope
from spendlens.customers import service
from spendlens.customers.filters import CustomerFiltersDep
from spendlens.customers.schemas import (
    CustomerCreate,
    CustomerDeleted,
    CustomerDetail,
    CustomerListItem,
    CustomerOut,
    CustomerSort,
    CustomerUpdate,
)
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("", response_model=Page[CustomerListItem], responses=error_responses(401, 422))
def list_customers(
    user: CurrentUser,
    org: CurrentOrg,
    session: SessionDep,
    filters: CustomerFiltersDep,
    page: PaginationDep,
    sort: Annotated[
        CustomerSort,
        Query(
            description=(
                "`name`, `signup`, `total_spend`, `last_purchase`, or `clv` / `p_alive` from "
                "the latest CLV fit, or `health_score` from the latest health computation; a "
                "leading `-` for descending. Customers without a signup date, purchase, CLV "
                "estimate or health score come last."
            )
        ),
    ] = CustomerSort.name_asc,
) -> Page[CustomerListItem]:
    """List the organisation's customers with spending totals, searched, filtered and sorted."""
    items, total = service.list_customers(
        session, org, filters, sort=sort, skip=page.skip, limit=page.limit
    )
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.get(
    "/{customer_id}", response_model=CustomerDetail, responses=error_responses(401, 404, 422)
)
def get_customer(
    customer_id: int, user: CurrentUser, org: CurrentOrg, session: SessionDep
) -> CustomerDetail:
    """One customer: profile, totals, monthly spend and the latest transactions."""
    return service.get_customer(session, org, customer_id)


@router.post(
    "",
    response_model=CustomerOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_customer(
    body: CustomerCreate, user: AnalystUser, org: CurrentOrg, session: SessionDep
) -> CustomerOut:
    """Add a customer (analysts and admins)."""
    return service.create_customer(session, org, body)


@router.patch(
    "/{customer_id}",
    response_model=CustomerOut,
    responses=error_responses(401, 403, 404, 409, 422),
)
def update_customer(
    customer_id: int,
    body: CustomerUpdate,
    user: AnalystUser,
    org: CurrentOrg,
    session: SessionDep,
) -> CustomerOut:
    """Change fields of a customer (analysts and admins)."""
    return service.update_customer(session, org, customer_id, body)


@router.delete(
    "/{customer_id}",
    response_model=CustomerDeleted,
    responses=error_responses(401, 403, 404, 409, 422),
)
def delete_customer(
    customer_id: int,
    user: AnalystUser,
    org_id: OrgScope,
    session: SessionDep,
    cascade: Annotated[
        bool, Query(description="Also delete the customer's transactions (required if any)")
    ] = False,
) -> CustomerDeleted:
    """Delete a customer, and with `cascade=true` its transactions (analysts and admins)."""
    return service.delete_customer(session, org_id, customer_id, cascade=cascade)
