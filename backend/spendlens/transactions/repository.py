"""Queries over transactions, always within one organisation."""

from __future__ import annotations

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from spendlens.models import Customer, Merchant, Transaction
from spendlens.transactions.filters import TransactionFilters, filter_conditions
from spendlens.transactions.schemas import TransactionSort

_ORDER = {
    TransactionSort.date_desc: (Transaction.occurred_at.desc(), Transaction.id.desc()),
    TransactionSort.date_asc: (Transaction.occurred_at.asc(), Transaction.id.asc()),
    TransactionSort.amount_desc: (Transaction.amount.desc(), Transaction.id.desc()),
    TransactionSort.amount_asc: (Transaction.amount.asc(), Transaction.id.asc()),
}


def _joined_with_names(*columns) -> Select:
    """`columns` selected from transactions joined to their customer and (optional) merchant."""
    return (
        select(*columns)
        .select_from(Transaction)
        .join(
            Customer,
            (Customer.org_id == Transaction.org_id) & (Customer.id == Transaction.customer_id),
        )
        .outerjoin(
            Merchant,
            (Merchant.org_id == Transaction.org_id) & (Merchant.id == Transaction.merchant_id),
        )
    )


def count(session: Session, org_id: int, filters: TransactionFilters) -> int:
    query = select(func.count()).select_from(Transaction).where(*filter_conditions(filters, org_id))
    return session.execute(query).scalar_one()


def list_page(
    session: Session,
    org_id: int,
    filters: TransactionFilters,
    *,
    sort: TransactionSort,
    skip: int,
    limit: int,
) -> list[tuple[Transaction, str, str | None]]:
    query = (
        _joined_with_names(Transaction, Customer.name, Merchant.name)
        .where(*filter_conditions(filters, org_id))
        .order_by(*_ORDER[sort])
        .offset(skip)
        .limit(limit)
    )
    return [tuple(row) for row in session.execute(query).all()]


def export_query(org_id: int, filters: TransactionFilters, sort: TransactionSort) -> Select:
    """Plain rows (no ORM objects) for streaming exports."""
    return (
        _joined_with_names(
            Transaction.id,
            Transaction.occurred_at,
            Transaction.customer_id,
            Customer.name.label("customer_name"),
            Customer.external_id.label("customer_external_id"),
            Merchant.name.label("merchant"),
            Transaction.category,
            Transaction.description,
            Transaction.quantity,
            Transaction.kind,
            Transaction.amount,
            Transaction.currency,
            Transaction.external_id,
        )
        .where(*filter_conditions(filters, org_id))
        .order_by(*_ORDER[sort])
    )


def get_with_names(
    session: Session, org_id: int, transaction_id: int
) -> tuple[Transaction, str, str | None] | None:
    row = session.execute(
        _joined_with_names(Transaction, Customer.name, Merchant.name).where(
            Transaction.org_id == org_id, Transaction.id == transaction_id
        )
    ).first()
    return tuple(row) if row else None


def get(session: Session, org_id: int, transaction_id: int) -> Transaction | None:
    return session.get(Transaction, (org_id, transaction_id))


def customer_exists(session: Session, org_id: int, customer_id: int) -> bool:
    return session.get(Customer, (org_id, customer_id)) is not None


def merchant_exists(session: Session, org_id: int, merchant_id: int) -> bool:
    return session.get(Merchant, (org_id, merchant_id)) is not None


def external_id_taken(
    session: Session, org_id: int, external_id: str, exclude_id: int | None = None
) -> bool:
    query = select(Transaction.id).where(
        Transaction.org_id == org_id, Transaction.external_id == external_id
    )
    if exclude_id is not None:
        query = query.where(Transaction.id != exclude_id)
    return session.execute(query).first() is not None
