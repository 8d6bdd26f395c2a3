"""Explicit builders for test data: each makes one row, flushes it and returns it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from spendlens.auth.security import create_access_token, hash_password
from spendlens.config import get_settings
from spendlens.models import Customer, Merchant, Organization, Transaction, User

_counter = itertools.count(1)
BUILDER_PASSWORD = "builder-password-1"
_BUILDER_HASH: str | None = None


def _password_hash() -> str:
    # Hashing with argon2 takes ~0.1 s: do it once for every builder-made user.
    global _BUILDER_HASH
    if _BUILDER_HASH is None:
        _BUILDER_HASH = hash_password(BUILDER_PASSWORD)
    return _BUILDER_HASH


def _n() -> int:
    return next(_counter)


def create_org(session: Session, **overrides: Any) -> Organization:
    n = _n()
    values = {"name": f"Org {n}", "slug": f"org-{n}", "base_currency": "USD", "timezone": "UTC"}
    values.update(overrides)
    org = Organization(**values)
    session.add(org)
    session.flush()
    return org


def create_user(
    session: Session, org: Organization, role: str = "analyst", **overrides: Any
) -> User:
    n = _n()
    values = {
        "org_id": org.id,
        "email": f"user{n}@builder.example",
        "full_name": f"User {n}",
        "password_hash": _password_hash(),
        "role": role,
        "is_active": True,
        "token_version": 1,
    }
    if "password" in overrides:
        values["password_hash"] = hash_password(overrides.pop("password"))
    values.update(overrides)
    user = User(**values)
    session.add(user)
    session.flush()
    return user


def create_customer(session: Session, org: Organization, **overrides: Any) -> Customer:
    n = _n()
    values = {
        "org_id": org.id,
        "external_id": f"BC{n:06d}",
        "name": f"Customer {n}",
        "email": f"customer{n}@builder.example",
        "country": "US",
        "signup_date": date(2025, 1, 1),
        "lifecycle_stage": "customer",
    }
    values.update(overrides)
    customer = Customer(**values)
    session.add(customer)
    session.flush()
    return customer


def create_merchant(session: Session, org: Organization, **overrides: Any) -> Merchant:
    n = _n()
    values = {"org_id": org.id, "name": f"Merchant {n}", "default_category": "Groceries"}
    values.update(overrides)
    merchant = Merchant(**values)
    session.add(merchant)
    session.flush()
    return merchant


def create_transaction(
    session: Session,
    org: Organization,
    customer: Customer,
    merchant: Merchant | None = None,
    **overrides: Any,
) -> Transaction:
    values: dict[str, Any] = {
        "org_id": org.id,
        "customer_id": customer.id,
        "merchant_id": merchant.id if merchant else None,
        "occurred_at": datetime(2026, 1, 15, 12, 0, tzinfo=UTC),
        "amount": Decimal("10.00"),
        "currency": org.base_currency,
        "category": "Groceries",
        "description": "builder purchase",
        "quantity": 1,
        "kind": "purchase",
    }
    values.update(overrides)
    if isinstance(values["amount"], (int, str, float)):
        values["amount"] = Decimal(str(values["amount"]))
    txn = Transaction(**values)
    session.add(txn)
    session.flush()
    return txn


def headers_for(user: User) -> dict[str, str]:
    token, _ = create_access_token(
        user_id=user.id,
        org_id=user.org_id,
        role=user.role,
        token_version=user.token_version,
        settings=get_settings(),
    )
    return {"Authorization": f"Bearer {token}"}
