"""The parse query of a transactions file: one typed transaction per record, each concern of a
row (its customer, date, quantity and amount, kind, category, currency, external id) in its own
function, in the order their checks are reported."""

from __future__ import annotations

from dataclasses import dataclass

from spendlens.imports.formats import (
    DEFAULT_CATEGORY,
    PRODUCT_CATEGORY,
    STOCK_CODE_CATEGORIES,
    SourcePlan,
)
from spendlens.imports.parsing.builder import RowsBuilder
from spendlens.imports.parsing.cells import (
    RE_CURRENCY,
    RE_DATABASE_ID,
    country,
    decimal,
    integer,
    without_spreadsheet_decimals,
)
from spendlens.imports.parsing.query import Check, ParseQuery
from spendlens.kit.dates import EARLIEST_DAY, LATEST_DAY
from spendlens.models.rules import (
    CATEGORY_LENGTH,
    DESCRIPTION_LENGTH,
    EXTERNAL_ID_LENGTH,
    MAX_AMOUNT,
    MAX_QUANTITY,
    NAME_LENGTH,
    TransactionKind,
    has_sign_sql,
    kind_by_sign_sql,
    sign_reason,
    sql_values,
)

TRANSACTION_PREVIEW_COLUMNS = [
    "customer_ref",
    "occurred_at",
    "amount",
    "currency",
    "kind",
    "quantity",
    "category",
    "description",
    "merchant_name",
    "external_id",
]


@dataclass
class Customer:
    """How a row names its customer: an external id, or (native files) a database id."""

    ref: str
    db_id: str = "CAST(NULL AS bigint)"
    joins: str = ""


@dataclass
class Amount:
    """The row's amount, and the column (and text) its problems are reported on."""

    value: str
    column: str
    text: str


def _invoice_line(b: RowsBuilder) -> None:
    """An Online Retail line needs its invoice and stock code (its natural key)."""
    b.require("invoice", b.text("invoice"))
    b.require("stock", b.text("stock"))


def _customer(b: RowsBuilder, org: str) -> Customer:
    """The row's customer: an external id (created when new), or for native files the database
    id of a customer of this organisation."""
    plan, p = b.plan, b.p
    customer_raw = b.raw("customer_ref")
    if b.online_retail:
        customer = Customer(b.typed("customer_ref", without_spreadsheet_decimals(customer_raw, p)))
        b.skip(f"{customer.ref} IS NULL", "customer_ref", "''", "no CustomerID")
    else:
        customer = Customer(b.typed("customer_ref", customer_raw))
    if plan.has("customer_db_id"):
        customer.db_id = b.typed(
            "customer_db_id",
            f"CASE WHEN {customer_raw} IS NULL AND {b.raw('customer_db_id')} ~ "
            f"{p(RE_DATABASE_ID)} THEN CAST({b.raw('customer_db_id')} AS bigint) END",
        )
        customer.joins = (
            f"LEFT JOIN customers known ON known.org_id = {org} AND known.id = {customer.db_id}"
        )
    column = "customer_ref" if plan.has("customer_ref") else "customer_db_id"
    if not b.online_retail:
        missing = f"{customer.ref} IS NULL"
        if plan.has("customer_db_id"):
            missing += f" AND {b.text('customer_db_id')} IS NULL"
        b.refuse(missing, column, "''", "required")
    b.limit_length(column, customer.ref, EXTERNAL_ID_LENGTH)
    if plan.has("customer_db_id"):
        db_text = b.text("customer_db_id")
        b.refuse(
            f"{customer.ref} IS NULL AND {db_text} IS NOT NULL AND known.id IS NULL",
            "customer_db_id",
            db_text,
            "no such customer in this organisation (give customer_external_id)",
        )
    return customer


def _occurred_at(b: RowsBuilder, tz: str) -> str:
    occurred_at = b.typed("occurred_at", b.dates("date", tz))
    date_text = b.text("date")
    b.require("date", date_text)
    b.refuse(f"{occurred_at} IS NULL", "date", date_text, f"not a date ({b.date_label()})")
    in_range = (
        f"({occurred_at} >= TIMESTAMPTZ '{EARLIEST_DAY} 00:00+00' "
        f"AND {occurred_at} < TIMESTAMPTZ '{LATEST_DAY} 00:00+00' + INTERVAL '1 day')"
    )
    b.refuse(f"NOT {in_range}", "date", date_text, f"not between {EARLIEST_DAY} and {LATEST_DAY}")
    # Out of range it is refused above, and shown as empty (a preview cannot hold year 10000).
    return f"(CASE WHEN {in_range} THEN {occurred_at} END)"


def _quantity(b: RowsBuilder) -> tuple[str, str] | None:
    """The quantity as a whole number (level-1 and level-3 references), None without a column."""
    if not b.plan.has("quantity"):
        return None
    quantity_l1, quantity = b.scalar("quantity_n", integer(b.source("quantity"), b.p))
    quantity_text = b.text("quantity")
    if b.online_retail:
        b.require("quantity", quantity_text)
    b.refuse(
        f"{quantity_text} IS NOT NULL AND {quantity} IS NULL",
        "quantity",
        quantity_text,
        "not a whole number",
    )
    return quantity_l1, quantity


def _amount(b: RowsBuilder, quantity: tuple[str, str] | None) -> Amount:
    """The amount in cents: given, or quantity × price."""
    plan, p = b.plan, b.p
    comma = plan.decimal_comma
    if plan.has("amount"):
        given_l1, given = b.scalar("amount_n", decimal(b.source("amount"), p, comma))
        column, text = b.column("amount"), b.text("amount")
        b.checks.append(Check(f"{text} IS NULL", column, "''", "required"))
        b.checks.append(Check(f"{given} IS NULL", column, text, "not a number"))
        if b.native:
            b.checks.append(
                Check(f"{given} <> round({given}, 2)", column, text, "more than two decimal places")
            )
        amount = Amount(b.typed("amount", f"round({given_l1}, 2)"), column, text)
    else:
        price_l1, price = b.scalar("price_n", decimal(b.source("price"), p, comma))
        column, text = b.column("price"), b.text("price")
        b.checks.append(Check(f"{text} IS NULL", column, "''", "required"))
        b.checks.append(Check(f"{price} IS NULL", column, text, "not a number"))
        quantity_l1, quantity_l3 = quantity  # the plan has a quantity when it has no amount
        if not b.online_retail:
            b.require("quantity", quantity_l3)
        amount = Amount(b.typed("amount", f"round({quantity_l1} * {price_l1}, 2)"), column, text)
    b.checks.append(
        Check(
            f"abs({amount.value}) >= {MAX_AMOUNT}", amount.column, amount.text, "amount too large"
        )
    )
    return amount


def _quantity_range(b: RowsBuilder, quantity: str) -> None:
    if b.native:
        condition, reason = (
            f"NOT BETWEEN 1 AND {MAX_QUANTITY}",
            f"must be between 1 and {MAX_QUANTITY}",
        )
        value = quantity
    else:  # a return line's quantity is negative; the row's kind carries the sign
        condition, reason = f"> {MAX_QUANTITY}", f"more than {MAX_QUANTITY}"
        value = f"abs({quantity})"
    b.refuse(f"{value} {condition}", "quantity", b.text("quantity"), reason)


def _output_quantity(b: RowsBuilder, quantity: str | None) -> str:
    if not quantity:
        return "1"
    if b.native:
        return f"COALESCE({quantity}, 1)"
    # a return line's quantity is negative; the row's kind carries the sign
    return f"GREATEST(abs(COALESCE({quantity}, 1)), 1)"


def _zero_amount(b: RowsBuilder, amount: Amount) -> None:
    if b.online_retail:
        b.skips.append(
            Check(
                f"{amount.value} = 0",
                amount.column,
                amount.text,
                "zero amount (price or quantity 0)",
            )
        )
        b.refuse(
            f"upper(left({b.text('invoice')}, 1)) = 'C' AND {amount.value} > 0",
            "quantity",
            b.text("quantity"),
            "a cancellation (C invoice) needs a negative quantity",
        )
    else:
        b.checks.append(
            Check(f"{amount.value} = 0", amount.column, amount.text, "the amount is zero")
        )


def _kind(b: RowsBuilder, amount: Amount) -> str:
    """The kind: from the amount's sign, or given and then checked against the sign."""
    kind = kind_by_sign_sql(amount.value)
    if not b.plan.has("kind"):
        return kind
    kind_text = b.text("kind")
    b.refuse(
        f"lower({kind_text}) NOT IN ({sql_values(TransactionKind)})",
        "kind",
        kind_text,
        f"not {' or '.join(choice.value for choice in TransactionKind)}",
    )
    # A zero amount was reported above, so "not the kind's sign" means the other sign here.
    for choice in TransactionKind:
        b.checks.append(
            Check(
                f"lower({kind_text}) = '{choice.value}' "
                f"AND NOT ({has_sign_sql(amount.value, choice)})",
                amount.column,
                amount.text,
                sign_reason(choice),
            )
        )
    return f"COALESCE(lower({kind_text}), {kind})"


def _category(b: RowsBuilder) -> str:
    p = b.p
    if b.online_retail:  # from the stock code: postage, fees … or a product
        whens = " ".join(
            f"WHEN {p(code)} THEN {p(name)}" for code, name in STOCK_CODE_CATEGORIES.items()
        )
        return f"(CASE upper({b.text('stock')}) {whens} ELSE {p(PRODUCT_CATEGORY)} END)"
    if b.native:
        category = b.text("category")
        b.require("category", category)
        return category
    return f"COALESCE({b.text('category')}, {p(DEFAULT_CATEGORY)})"


def _currency(b: RowsBuilder, currency: str) -> str:
    """The row's currency, the organisation's when the file has none."""
    currency_sql = b.p(currency)
    if not b.plan.has("currency"):
        return currency_sql
    currency_text = b.text("currency")
    b.refuse(
        f"{currency_text} !~ {b.p(RE_CURRENCY)}",
        "currency",
        currency_text,
        "not a three-letter currency code",
    )
    return f"COALESCE(upper({currency_text}), {currency_sql})"


def _text_lengths(b: RowsBuilder) -> None:
    limits = (
        ("category", CATEGORY_LENGTH),
        ("merchant", NAME_LENGTH),
        ("customer_name", NAME_LENGTH),
        # The API's limit (the column itself has none): an import may not store what the API
        # would refuse, nor make GET /transactions answer megabytes.
        ("description", DESCRIPTION_LENGTH),
    )
    for name, limit in limits:
        if b.plan.has(name) and not (b.online_retail and name == "category"):
            b.limit_length(name, b.text(name), limit)


def _external_id(b: RowsBuilder) -> str:
    """The transaction's id in its source: given, or the Online Retail line's natural key."""
    if b.online_retail:
        b.windows.append(
            f"row_number() OVER (PARTITION BY {b.raw('invoice')}, {b.raw('stock')} "
            "ORDER BY l1.row_no) AS occurrence"
        )
        external_id = f"({b.text('invoice')} || ':' || {b.text('stock')} || ':' || l2.occurrence)"
        b.refuse(
            f"length({external_id}) > {EXTERNAL_ID_LENGTH}",
            "invoice",
            b.text("invoice"),
            "InvoiceNo and StockCode too long",
        )
        return external_id
    if not b.plan.has("external_id"):
        return "CAST(NULL AS text)"
    external_id = b.text("external_id")
    b.limit_length("external_id", external_id, EXTERNAL_ID_LENGTH)
    b.reject_duplicates("external_id", external_id)
    return external_id


def transaction_rows(
    plan: SourcePlan, staging: str, *, org_id: int, timezone: str, currency: str
) -> ParseQuery:
    """Typed transactions from the staged file, one per record, with problem and skip arrays.

    Level-2 expressions (typed values) read `b.raw`; level-3 ones (rules, output) read `b.text`
    and typed values.
    """
    b = RowsBuilder(plan, staging)
    tz, org = b.p(timezone), b.p(org_id)
    if b.online_retail:
        _invoice_line(b)
    customer = _customer(b, org)
    occurred_at = _occurred_at(b, tz)
    quantity = _quantity(b)
    amount = _amount(b, quantity)
    quantity_l3 = quantity[1] if quantity else None
    if quantity_l3:
        _quantity_range(b, quantity_l3)
    out_quantity = _output_quantity(b, quantity_l3)
    _zero_amount(b, amount)
    kind = _kind(b, amount)
    category = _category(b)
    currency_sql = _currency(b, currency)
    _text_lengths(b)
    country_code = "CAST(NULL AS text)"
    if plan.has("country"):
        country_code, _ = country(b.text("country"), b.p, strict=False)
    external_id = _external_id(b)
    output = [
        f"{customer.ref} AS customer_ref",
        f"{customer.db_id} AS customer_db_id",
        f"{b.text('customer_name')} AS customer_name",
        f"{country_code} AS country",
        f"{occurred_at} AS occurred_at",
        f"{amount.value} AS amount",
        f"{currency_sql} AS currency",
        f"{category} AS category",
        f"COALESCE({b.text('description')}, '') AS description",
        f"{out_quantity} AS quantity",
        f"{kind} AS kind",
        f"{b.text('merchant')} AS merchant_name",
        f"{external_id} AS external_id",
    ]
    return b.query(output, TRANSACTION_PREVIEW_COLUMNS, customer.joins)
