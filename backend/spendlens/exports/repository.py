"""Plain-row queries for streamed exports, always within one organisation and in a stable order
that depends only on the data (external ids, names), never on database ids."""

from __future__ import annotations

from sqlalchemy import Select, func, select

from spendlens.clv.repository import latest_estimates
from spendlens.customers.filters import CustomerFilters, filter_conditions
from spendlens.customers.repository import ZERO_MONEY, customer_totals
from spendlens.models import Customer, Merchant, Organization, Transaction

transactions = Transaction.__table__


def organization_query(org_id: int) -> Select:
    return select(Organization.name, Organization.base_currency, Organization.timezone).where(
        Organization.id == org_id
    )


def customers_with_totals_query(
    org_id: int, currency: str, filters: CustomerFilters, *, include_clv: bool = False
) -> Select:
    """The filtered customers with their totals in `currency` (as on the customers list), and
    with `include_clv` their estimates from the latest CLV fit."""
    totals = customer_totals(org_id, currency)
    query = (
        select(
            Customer.external_id,
            Customer.name,
            Customer.email,
            Customer.country,
            Customer.signup_date,
            Customer.lifecycle_stage,
            func.coalesce(totals.c.total_spend, ZERO_MONEY).label("total_spend"),
            func.coalesce(totals.c.transaction_count, 0).label("transaction_count"),
            totals.c.first_purchase,
            totals.c.last_purchase,
        )
        .select_from(Customer)
        .outerjoin(totals, totals.c.customer_id == Customer.id)
        .where(*filter_conditions(filters, org_id))
        .order_by(*_customer_order())
    )
    if include_clv:
        clv = latest_estimates(org_id)
        query = query.outerjoin(clv, clv.c.customer_id == Customer.id).add_columns(
            clv.c.expected_purchases, clv.c.p_alive, clv.c.expected_spend, clv.c.clv
        )
    return query


def _customer_order():
    # The id only separates customers that are otherwise indistinguishable in the export.
    return (
        Customer.external_id.asc().nulls_last(),
        Customer.name.asc(),
        Customer.email.asc().nulls_last(),
        Customer.id.asc(),
    )


def customers_query(org_id: int) -> Select:
    return (
        select(
            Customer.external_id,
            Customer.name,
            Customer.email,
            Customer.country,
            Customer.signup_date,
            Customer.lifecycle_stage,
        )
        .where(Customer.org_id == org_id)
        .order_by(*_customer_order())
    )


def merchants_query(org_id: int) -> Select:
    return (
        select(Merchant.name, Merchant.default_category)
        .where(Merchant.org_id == org_id)
        .order_by(Merchant.name.asc())
    )


def transactions_query(org_id: int) -> Select:
    """Every transaction, customers and merchants named by their keys, in natural-key order."""
    return (
        select(
            Transaction.external_id,
            Transaction.occurred_at,
            Customer.external_id.label("customer_external_id"),
            Merchant.name.label("merchant"),
            Transaction.category,
            Transaction.description,
            Transaction.quantity,
            Transaction.kind,
            Transaction.amount,
            Transaction.currency,
        )
        .select_from(Transaction)
        .join(
            Customer,
            (Customer.org_id == Transaction.org_id) & (Customer.id == Transaction.customer_id),
        )
        .outerjoin(
            Merchant,
            (Merchant.org_id == Transaction.org_id) & (Merchant.id == Transaction.merchant_id),
        )
        .where(Transaction.org_id == org_id)
        .order_by(
            Transaction.external_id.asc().nulls_last(),
            Transaction.occurred_at.asc(),
            Customer.external_id.asc().nulls_last(),
            Transaction.amount.asc(),
            Merchant.name.asc().nulls_first(),
            Transaction.category.asc(),
            Transaction.description.asc(),
            Transaction.id.asc(),
        )
    )
