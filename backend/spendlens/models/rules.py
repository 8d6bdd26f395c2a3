"""The data rules of customers, merchants and transactions, each defined once: text lengths,
lifecycle stages, transaction kinds and the sign of an amount.

The models build their columns and CHECK constraints from them, the API schemas their limits and
validators, the import parser its SQL checks, and the repositories their "is a purchase"
condition. The values are the database's: changing one needs a migration.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import ColumnElement

# Text lengths in characters, by what the text is (every column holding one has this length).
EXTERNAL_ID_LENGTH = 100  # customers.external_id, transactions.external_id: another system's id
NAME_LENGTH = 200  # customers.name, merchants.name
EMAIL_LENGTH = 320  # customers.email: 64 (local part) + @ + 255 (domain)
CATEGORY_LENGTH = 100  # transactions.category, merchants.default_category (a default for it)
COUNTRY_CODE_LENGTH = 2  # ISO 3166-1 alpha-2
CURRENCY_CODE_LENGTH = 3  # ISO 4217
COUNTRY_CODE_PATTERN = r"^[A-Z]{2}$"
CURRENCY_CODE_PATTERN = r"^[A-Z]{3}$"
STAGE_LENGTH = 16  # customers.lifecycle_stage
KIND_LENGTH = 16  # transactions.kind

# Money: numeric(14, 2), so an amount's magnitude stays below 10^12.
AMOUNT_DIGITS = 14
AMOUNT_PLACES = 2
MAX_AMOUNT = 10 ** (AMOUNT_DIGITS - AMOUNT_PLACES)

# Limits the API and the import share that the schema does not hold (quantity > 0 and a text
# description are all the database asks).
MAX_QUANTITY = 1_000_000
DESCRIPTION_LENGTH = 1000


class LifecycleStage(str, Enum):
    lead = "lead"
    prospect = "prospect"
    customer = "customer"
    churned = "churned"


DEFAULT_STAGE = LifecycleStage.customer


class TransactionKind(str, Enum):
    purchase = "purchase"
    refund = "refund"


DEFAULT_KIND = TransactionKind.purchase


def sql_values(choices: type[Enum]) -> str:
    """An enum's values as a SQL list body: 'lead', 'prospect', … (values are ours, not input)."""
    return ", ".join(f"'{choice.value}'" for choice in choices)


# --- the sign of an amount ----------------------------------------------------------------------


@dataclass(frozen=True)
class Sign:
    word: str
    sql: str
    holds: Callable[[Any, Any], bool]


POSITIVE = Sign("positive", ">", operator.gt)
NEGATIVE = Sign("negative", "<", operator.lt)
# A purchase is money in, a refund money given back: each kind has one sign, and zero is neither.
AMOUNT_SIGN = {TransactionKind.purchase: POSITIVE, TransactionKind.refund: NEGATIVE}


def has_sign_sql(amount: str, kind: TransactionKind) -> str:
    """SQL: the amount expression has the sign of `kind`."""
    return f"{amount} {AMOUNT_SIGN[kind].sql} 0"


def amount_sign_sql(kind: str = "kind", amount: str = "amount") -> str:
    """SQL: the amount has its kind's sign (the transactions table's CHECK)."""
    return " OR ".join(
        f"({kind} = '{choice.value}' AND {has_sign_sql(amount, choice)})" for choice in AMOUNT_SIGN
    )


def kind_by_sign_sql(amount: str) -> str:
    """SQL: the kind an amount's sign means when a file gives none (zero reads as a purchase,
    which the zero check then refuses)."""
    refund = TransactionKind.refund
    return (
        f"(CASE WHEN {has_sign_sql(amount, refund)} THEN '{refund.value}' "
        f"ELSE '{TransactionKind.purchase.value}' END)"
    )


def sign_reason(kind: TransactionKind) -> str:
    """Why an amount does not fit `kind`: "a purchase needs a positive amount"."""
    return f"a {kind.value} needs a {AMOUNT_SIGN[kind].word} amount"


def amount_sign_problem(kind: TransactionKind, amount: Decimal) -> str | None:
    """The reason `amount` cannot be a `kind`, or None when its sign fits."""
    return None if AMOUNT_SIGN[kind].holds(amount, 0) else sign_reason(kind)


# --- "is a purchase" in queries -----------------------------------------------------------------

# For textual SQL over the transactions table.
IS_PURCHASE_SQL = f"kind = '{TransactionKind.purchase.value}'"


def is_purchase(transactions: Any) -> ColumnElement[bool]:
    """The condition "is a purchase" on the transactions table's columns (`table.c` or an
    alias's `.c`)."""
    return transactions.kind == TransactionKind.purchase.value
