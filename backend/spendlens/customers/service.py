"""Business rules for customers: unique external ids, totals in the base currency, and no
customer deleted with its transactions unless the caller asked for that explicitly."""

from __future__ import annotations

from sqlalchemy.orm import Session

from spendlens.clv import service as clv_service
from spendlens.customers import repository
from spendlens.customers.filters import CustomerFilters
from spendlens.customers.schemas import (
    CustomerCreate,
    CustomerDeleted,
    CustomerDetail,
    CustomerListItem,
    CustomerOut,
    CustomerSort,
    CustomerUpdate,
    MonthlySpend,
)
from spendlens.errors import Conflict, NotFound, Unprocessable
from spendlens.models import Customer, Organization
from spendlens.models.rules import LifecycleStage
from spendlens.segments import service as segments_service
from spendlens.transactions import repository as transactions_repository
from spendlens.transactions import service as transactions_service
from spendlens.transactions.filters import TransactionFilters
from spendlens.transactions.schemas import TransactionSort

RECENT_TRANSACTIONS = 10


def list_customers(
    session: Session,
    org: Organization,
    filters: CustomerFilters,
    *,
    sort: CustomerSort,
    skip: int,
    limit: int,
) -> tuple[list[CustomerListItem], int]:
    total = repository.count(session, org.id, filters)
    rows = repository.list_page(
        session, org.id, org.base_currency, filters, sort=sort, skip=skip, limit=limit
    )
    return [CustomerListItem.model_validate(row) for row in rows], total


def _get_with_totals(session: Session, org: Organization, customer_id: int) -> CustomerOut:
    row = repository.get_with_totals(session, org.id, org.base_currency, customer_id)
    if row is None:
        raise NotFound("Customer not found")
    return CustomerOut.model_validate(row)


def get_customer(session: Session, org: Organization, customer_id: int) -> CustomerDetail:
    profile = _get_with_totals(session, org, customer_id)
    months = repository.monthly_spend(session, org.id, org.base_currency, customer_id)
    recent = transactions_repository.list_page(
        session,
        org.id,
        TransactionFilters(customer_id=customer_id),
        sort=TransactionSort.date_desc,
        skip=0,
        limit=RECENT_TRANSACTIONS,
    )
    return CustomerDetail(
        **profile.model_dump(),
        monthly_spend=[MonthlySpend.model_validate(m) for m in months],
        recent_transactions=[transactions_service.to_out(row) for row in recent],
        rfm=segments_service.latest_customer_rfm(session, org.id, customer_id),
        clv=clv_service.customer_clv(session, org.id, customer_id),
    )


def _check_external_id(
    session: Session, org_id: int, external_id: str | None, exclude_id: int | None = None
) -> None:
    if external_id and repository.external_id_taken(session, org_id, external_id, exclude_id):
        raise Conflict(f"A customer with external_id {external_id!r} already exists")


def create_customer(session: Session, org: Organization, body: CustomerCreate) -> CustomerOut:
    _check_external_id(session, org.id, body.external_id)
    customer = Customer(
        org_id=org.id,
        external_id=body.external_id,
        name=body.name,
        email=body.email,
        country=body.country,
        signup_date=body.signup_date,
        lifecycle_stage=body.lifecycle_stage.value,
    )
    session.add(customer)
    session.flush()
    return _get_with_totals(session, org, customer.id)


def update_customer(
    session: Session, org: Organization, customer_id: int, body: CustomerUpdate
) -> CustomerOut:
    customer = repository.get(session, org.id, customer_id)
    if customer is None:
        raise NotFound("Customer not found")
    changes = body.model_dump(exclude_unset=True)
    for required in ("name", "lifecycle_stage"):
        if required in changes and changes[required] is None:
            raise Unprocessable(f"{required} cannot be null", loc=("body", required))
    if "external_id" in changes:
        _check_external_id(session, org.id, changes["external_id"], exclude_id=customer.id)
    for key, value in changes.items():
        setattr(customer, key, value.value if isinstance(value, LifecycleStage) else value)
    session.flush()
    return _get_with_totals(session, org, customer.id)


def delete_customer(
    session: Session, org_id: int, customer_id: int, *, cascade: bool
) -> CustomerDeleted:
    # The row lock makes a transaction recorded for this customer meanwhile wait for us (and then
    # fail on its foreign key), so it is never deleted without having been counted.
    customer = repository.get(session, org_id, customer_id, for_update=True)
    if customer is None:
        raise NotFound("Customer not found")
    count = repository.transaction_count(session, org_id, customer_id)
    if count and not cascade:
        them = "it" if count == 1 else "them"
        raise Conflict(
            f"Customer has {count} transaction{'' if count == 1 else 's'}; "
            f"repeat with cascade=true to delete {them} too"
        )
    deleted = repository.delete_transactions(session, org_id, customer_id) if count else 0
    session.delete(customer)
    session.flush()
    return CustomerDeleted(deleted_customer=customer_id, deleted_transactions=deleted)
