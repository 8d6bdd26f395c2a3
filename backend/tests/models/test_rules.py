"""The data rules (spendlens.models.rules) are the migrated database's: every CHECK constraint the
models build from them reads the same as the one the migrations created, every length is the
column's, and the Python sign rule accepts exactly what the database accepts."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import CheckConstraint, text

from spendlens.models import Base
from spendlens.models.rules import (
    AMOUNT_DIGITS,
    AMOUNT_PLACES,
    CATEGORY_LENGTH,
    COUNTRY_CODE_LENGTH,
    CURRENCY_CODE_LENGTH,
    EMAIL_LENGTH,
    EXTERNAL_ID_LENGTH,
    KIND_LENGTH,
    NAME_LENGTH,
    STAGE_LENGTH,
    TransactionKind,
    amount_sign_problem,
)

LENGTHS = {
    ("customers", "external_id"): EXTERNAL_ID_LENGTH,
    ("customers", "name"): NAME_LENGTH,
    ("customers", "email"): EMAIL_LENGTH,
    ("customers", "country"): COUNTRY_CODE_LENGTH,
    ("customers", "lifecycle_stage"): STAGE_LENGTH,
    ("merchants", "name"): NAME_LENGTH,
    ("merchants", "default_category"): CATEGORY_LENGTH,
    ("transactions", "category"): CATEGORY_LENGTH,
    ("transactions", "currency"): CURRENCY_CODE_LENGTH,
    ("transactions", "kind"): KIND_LENGTH,
    ("transactions", "external_id"): EXTERNAL_ID_LENGTH,
}
RULE_TABLES = ("customers", "merchants", "transactions")


def _checks(connection, table: str) -> set[str]:
    rows = connection.execute(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = CAST(:table AS regclass) AND contype = 'c'"
        ),
        {"table": table},
    )
    return {definition for (definition,) in rows}


@pytest.mark.parametrize("table", ["customers", "transactions"])
def test_the_models_check_constraints_are_the_migrated_ones(connection, table):
    # PostgreSQL normalises a CHECK's text; a copy of the table's columns holding the models'
    # constraints gives the form to compare with.
    probe = f"rules_probe_{table}"
    connection.execute(text(f"CREATE TEMPORARY TABLE {probe} (LIKE {table})"))
    model_checks = [
        c for c in Base.metadata.tables[table].constraints if isinstance(c, CheckConstraint)
    ]
    assert model_checks
    for check in model_checks:
        connection.execute(text(f"ALTER TABLE {probe} ADD CHECK ({check.sqltext})"))
    assert _checks(connection, probe) == _checks(connection, table)


def test_every_length_is_the_columns(connection):
    rows = connection.execute(
        text(
            "SELECT table_name, column_name, character_maximum_length "
            "FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name IN :tables "
            "AND character_maximum_length IS NOT NULL"
        ).bindparams(tables=RULE_TABLES),
    )
    assert {(table, column): length for table, column, length in rows} == LENGTHS


def test_amounts_are_numeric_of_the_rules_precision(connection):
    precision = connection.execute(
        text(
            "SELECT numeric_precision, numeric_scale FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = 'transactions' "
            "AND column_name = 'amount'"
        )
    ).one()
    assert tuple(precision) == (AMOUNT_DIGITS, AMOUNT_PLACES)


@pytest.mark.parametrize("kind", list(TransactionKind))
@pytest.mark.parametrize("amount", ["-0.01", "0.00", "0.01", "-120.50", "99.99"])
def test_the_sign_rule_accepts_what_the_database_accepts(connection, kind, amount):
    (definition,) = connection.execute(
        text(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
            "WHERE conrelid = 'transactions'::regclass AND conname LIKE '%amount_sign%'"
        )
    ).one()
    condition = definition.removeprefix("CHECK ")
    database_accepts = connection.execute(
        text(
            f"SELECT {condition} FROM (SELECT CAST(:kind AS varchar) AS kind, "
            "CAST(:amount AS numeric) AS amount) AS t"
        ),
        {"kind": kind.value, "amount": amount},
    ).scalar_one()
    assert (amount_sign_problem(kind, Decimal(amount)) is None) is database_accepts
