"""Business rules for transactions: references stay inside the organisation, sign follows kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from spendlens.errors import Conflict, NotFound, Unprocessable
from spendlens.kit.csvtools import csv_line, neutralise_formula
from spendlens.kit.money import format_money
from spendlens.models import Organization, Transaction
from spendlens.models.rules import TransactionKind
from spendlens.tenancy import set_org
from spendlens.transactions import repository
from spendlens.transactions.filters import TransactionFilters
from spendlens.transactions.schemas import (
    TransactionCreate,
    TransactionOut,
    TransactionSort,
    TransactionUpdate,
    check_amount_sign,
)


def to_out(row: tuple[Transaction, str, str | None]) -> TransactionOut:
    txn, customer_name, merchant_name = row
    out = TransactionOut.model_validate(txn)
    out.customer_name = customer_name
    out.merchant = merchant_name
    return out


def list_transactions(
    session: Session,
    org_id: int,
    filters: TransactionFilters,
    *,
    sort: TransactionSort,
    skip: int,
    limit: int,
) -> tuple[list[TransactionOut], int]:
    total = repository.count(session, org_id, filters)
    rows = repository.list_page(session, org_id, filters, sort=sort, skip=skip, limit=limit)
    return [to_out(r) for r in rows], total


EXPORT_COLUMNS = (
    "id",
    "occurred_at",
    "customer_id",
    "customer_name",
    # The customer's own key: what an import (into any organisation) matches customers on.
    "customer_external_id",
    "merchant",
    "category",
    "description",
    "quantity",
    "kind",
    "amount",
    "currency",
    "external_id",
)
_TEXT_COLUMNS = {
    "customer_name",
    "merchant",
    "category",
    "description",
    "external_id",
    "customer_external_id",
}


def export_csv_lines(
    connect: Callable[[], AbstractContextManager[Connection]],
    org_id: int,
    filters: TransactionFilters,
    sort: TransactionSort,
) -> Iterator[str]:
    """The filtered transactions as CSV lines, streamed from a server-side cursor.

    Free-text cells are neutralised against formula injection; numbers and timestamps are
    written as such (a negative amount stays a number).
    """
    yield csv_line(EXPORT_COLUMNS)
    query = repository.export_query(org_id, filters, sort)
    with connect() as conn:
        set_org(conn, org_id)  # its own connection: row-level security needs the org too
        result = conn.execute(query, execution_options={"stream_results": True, "yield_per": 2000})
        for row in result.mappings():
            values = []
            for column in EXPORT_COLUMNS:
                value = row[column]
                if value is None:
                    values.append("")
                elif column in _TEXT_COLUMNS:
                    values.append(neutralise_formula(str(value)))
                elif column == "occurred_at":
                    values.append(value.astimezone(UTC).isoformat())
                elif column == "amount":
                    values.append(format_money(value))
                else:
                    values.append(value)
            yield csv_line(values)


def get_transaction(session: Session, org_id: int, transaction_id: int) -> TransactionOut:
    row = repository.get_with_names(session, org_id, transaction_id)
    if row is None:
        raise NotFound("Transaction not found")
    return to_out(row)


def _check_references(
    session: Session, org_id: int, customer_id: int | None, merchant_id: int | None
) -> None:
    # Another organisation's customer or merchant is reported exactly like a missing one.
    if customer_id is not None and not repository.customer_exists(session, org_id, customer_id):
        raise Unprocessable("No such customer", loc=("body", "customer_id"))
    if merchant_id is not None and not repository.merchant_exists(session, org_id, merchant_id):
        raise Unprocessable("No such merchant", loc=("body", "merchant_id"))


def _check_external_id(
    session: Session, org_id: int, external_id: str | None, exclude_id: int | None = None
) -> None:
    if external_id and repository.external_id_taken(session, org_id, external_id, exclude_id):
        raise Conflict(f"A transaction with external_id {external_id!r} already exists")


def create_transaction(
    session: Session, org: Organization, body: TransactionCreate
) -> TransactionOut:
    _check_references(session, org.id, body.customer_id, body.merchant_id)
    _check_external_id(session, org.id, body.external_id)
    txn = Transaction(
        org_id=org.id,
        customer_id=body.customer_id,
        merchant_id=body.merchant_id,
        occurred_at=body.occurred_at,
        amount=body.amount,
        currency=body.currency or org.base_currency,
        category=body.category.strip(),
        description=body.description,
        quantity=body.quantity,
        kind=body.kind.value,
        external_id=body.external_id,
    )
    session.add(txn)
    session.flush()
    return get_transaction(session, org.id, txn.id)


def update_transaction(
    session: Session, org_id: int, transaction_id: int, body: TransactionUpdate
) -> TransactionOut:
    txn = repository.get(session, org_id, transaction_id)
    if txn is None:
        raise NotFound("Transaction not found")
    changes = body.model_dump(exclude_unset=True)
    for required in ("customer_id", "occurred_at", "amount", "currency", "category", "kind"):
        if required in changes and changes[required] is None:
            raise Unprocessable(f"{required} cannot be null", loc=("body", required))
    _check_references(session, org_id, changes.get("customer_id"), changes.get("merchant_id"))
    if "external_id" in changes:
        _check_external_id(session, org_id, changes["external_id"], exclude_id=txn.id)
    kind = body.kind if body.kind is not None else TransactionKind(txn.kind)
    amount = body.amount if body.amount is not None else txn.amount
    try:
        check_amount_sign(kind, amount)
    except ValueError as exc:
        raise Unprocessable(str(exc), loc=("body", "amount"))
    for key, value in changes.items():
        setattr(txn, key, value.value if isinstance(value, TransactionKind) else value)
    session.flush()
    return get_transaction(session, org_id, txn.id)


def delete_transaction(session: Session, org_id: int, transaction_id: int) -> None:
    txn = repository.get(session, org_id, transaction_id)
    if txn is None:
        raise NotFound("Transaction not found")
    session.delete(txn)
    session.flush()
