"""SQL that turns a staged file (text columns c1, c2 …) into typed rows, inside PostgreSQL.

Nothing here raises on bad input: every value is checked by a regular expression or a range before
it is cast, so one statement reads a million rows and gives each row either its first problem
(column, value, reason), the reason the format skips it, or neither.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from spendlens.imports.countries import COUNTRY_CODES
from spendlens.imports.formats import (
    DEFAULT_CATEGORY,
    PRODUCT_CATEGORY,
    STOCK_CODE_CATEGORIES,
    DateFormat,
    SourcePlan,
)
from spendlens.imports.schemas import ImportFormat, ImportKind

MAX_AMOUNT = 10**12  # numeric(14, 2)
MAX_QUANTITY = 1_000_000
LIFECYCLE_STAGES = ("lead", "prospect", "customer", "churned")
RE_INT = r"^[+-]?[0-9]{1,9}([.,]0*)?$"
RE_HAS_OFFSET = "[Z+-]"
RE_DECIMAL_POINT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
RE_DECIMAL_COMMA = r"^[+-]?([0-9]+(,[0-9]*)?|,[0-9]+)$"
RE_SPREADSHEET_ID = r"^[0-9]+\.0+$"  # 12346.0: a number that went through a spreadsheet
RE_DATABASE_ID = r"^[0-9]{1,18}$"
RE_COUNTRY_CODE = r"^[A-Za-z]{2}$"
RE_CURRENCY = r"^[A-Za-z]{3}$"
# A cell our CSV export protected against spreadsheet formulas ('=…, '+…): the quote is ours.
RE_NEUTRALISED = "^'[=+@\t\r-]"
# The same guard at the start of every line of a multi-line cell (the export puts it there too).
RE_NEUTRALISED_LINES = "(^|[\r\n])'(?=[=+@\t\r-])"
RE_EMAIL = r"^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$"
_MONTHS = "ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']"


class Params:
    """Bind parameters collected while SQL text is generated (values never enter the text)."""

    def __init__(self, **initial: object) -> None:
        self.values: dict[str, object] = dict(initial)

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


@dataclass
class Check:
    """One rule of a row: when `condition` holds, the row gets (column, value, reason)."""

    condition: str
    column: str
    value: str
    reason: str


@dataclass
class ParseQuery:
    """A SELECT producing the typed rows, with the parameters it needs."""

    sql: str
    params: dict[str, object]
    columns: list[str] = field(default_factory=list)


def _int(v: str, p: Params) -> str:
    # split_part, not substring(… from pattern): regex captures are slow in PostgreSQL.
    return (
        f"CASE WHEN {v} ~ {p(RE_INT)} "
        f"THEN CAST(split_part(translate({v}, ',', '.'), '.', 1) AS integer) END"
    )


def _decimal(v: str, p: Params, comma: bool) -> str:
    if comma:
        regex, cast = RE_DECIMAL_COMMA, f"CAST(replace({v}, ',', '.') AS numeric)"
    else:
        regex, cast = RE_DECIMAL_POINT, f"CAST({v} AS numeric)"
    return f"CASE WHEN {v} ~ {p(regex)} THEN {cast} END"


def _days_in_month(y: str, mo: str) -> str:
    leap = f"(mod({y}, 4) = 0 AND (mod({y}, 100) <> 0 OR mod({y}, 400) = 0))"
    return (
        f"(CASE WHEN {mo} IN (4, 6, 9, 11) THEN 30 WHEN {mo} = 2 THEN "
        f"(CASE WHEN {leap} THEN 29 ELSE 28 END) ELSE 31 END)"
    )


def _date_parts(m: str, fmt: DateFormat) -> dict[str, str]:
    g = fmt.groups

    def part(name: str) -> str:
        return f"CAST({m}[{g[name]}] AS integer)"

    if "year" in g:
        year = part("year")
    else:  # two-digit years pivot like Python's strptime: 69-99 → 19xx, 00-68 → 20xx
        year = f"({part('year2')} + CASE WHEN {part('year2')} < 69 THEN 2000 ELSE 1900 END)"
    if "month" in g:
        month = part("month")
    else:
        month = f"array_position({_MONTHS}, lower(left({m}[{g['month_name']}], 3)))"
    if "hour12" in g:
        pm = (
            f"(CASE WHEN upper({m}[{g['ampm']}]) = 'PM' THEN 12 ELSE 0 END)" if "ampm" in g else "0"
        )
        hour = f"(mod({part('hour12')}, 12) + {pm})"
    elif "hour" in g:
        hour = f"COALESCE({part('hour')}, 0)"
    else:
        hour = "0"
    minute = f"COALESCE({part('minute')}, 0)" if "minute" in g else "0"
    second = f"COALESCE({part('second')}, 0)" if "second" in g else "0"
    fraction = (
        f"COALESCE(CAST('0.' || {m}[{g['fraction']}] AS double precision), 0)"
        if "fraction" in g
        else "0"
    )
    checks = [
        f"{m} IS NOT NULL",
        f"{year} BETWEEN 1 AND 9999",
        f"{month} BETWEEN 1 AND 12",
        f"{part('day')} BETWEEN 1 AND {_days_in_month(year, month)}",
        f"{hour} BETWEEN 0 AND 23",
        f"{minute} BETWEEN 0 AND 59",
        f"{second} BETWEEN 0 AND 59",
    ]
    if "hour12" in g:
        checks.append(f"{part('hour12')} BETWEEN 1 AND 12")
    zone = None
    if "zone" in g:
        hours = f"COALESCE(CAST({m}[{g['zone_hours']}] AS integer), 0)"
        minutes = f"COALESCE(CAST({m}[{g['zone_minutes']}] AS integer), 0)"
        checks.append(f"{hours} <= 14 AND {minutes} <= 59")
        sign = f"(CASE WHEN {m}[{g['zone_sign']}] = '-' THEN -1 ELSE 1 END)"
        zone = (m, g["zone"], f"make_interval(hours => {hours}, mins => {minutes}) * {sign}")
    return {
        "year": year,
        "month": month,
        "day": part("day"),
        "hour": hour,
        "minute": minute,
        "seconds": f"({second} + {fraction})",
        "valid": " AND ".join(checks),
        "zone": zone,
    }


def _valid_day(y: str, mo: str, d: str) -> str:
    return f"({y} >= 1 AND {d} <= {_days_in_month(y, mo)})"


def _sliced(v: str, fmt: DateFormat) -> dict[str, str]:
    """Date parts of an ISO or M/D/Y value cut out with string functions (its format, and the
    ranges of month, hour, minute and second, were checked by the regular expression)."""
    if fmt.kind == "iso":
        part = {"y": (1, 4), "mo": (6, 2), "d": (9, 2)}
        ints = {k: f"CAST(substr({v}, {a}, {n}) AS integer)" for k, (a, n) in part.items()}
        return ints
    day, time = f"split_part({v}, ' ', 1)", f"split_part({v}, ' ', 2)"

    def number(text_sql: str) -> str:
        return f"CAST(COALESCE(NULLIF({text_sql}, ''), '0') AS integer)"

    return {
        "mo": f"CAST(split_part({day}, '/', 1) AS integer)",
        "d": f"CAST(split_part({day}, '/', 2) AS integer)",
        "y": f"CAST(split_part({day}, '/', 3) AS integer)",
        "h": number(f"split_part({time}, ':', 1)"),
        "mi": number(f"split_part({time}, ':', 2)"),
        "s": number(f"split_part({time}, ':', 3)"),
    }


def _fast_date(v: str, fmt: DateFormat, p: Params, tz: str | None) -> tuple[str, str]:
    """(is valid, value) for ISO or M/D/Y text `v`; a timestamptz when `tz` is given (the zone
    of times written without an offset), else a date."""
    parts = _sliced(v, fmt)
    y, mo, d = parts["y"], parts["mo"], parts["d"]
    valid = f"(CASE WHEN {v} ~ {p(fmt.regex)} THEN {_valid_day(y, mo, d)} ELSE false END)"
    if tz is None:
        return valid, f"make_date({y}, {mo}, {d})"
    if fmt.kind == "iso":
        value = (
            f"(CASE WHEN substr({v}, 11) ~ {p(RE_HAS_OFFSET)} THEN CAST({v} AS timestamptz) "
            f"ELSE CAST({v} AS timestamp) AT TIME ZONE {tz} END)"
        )
    else:
        value = f"make_timestamptz({y}, {mo}, {d}, {parts['h']}, {parts['mi']}, {parts['s']}, {tz})"
    return valid, value


def _timestamp(m: str, fmt: DateFormat, tz: str) -> tuple[str, str]:
    """(is valid, timestamptz value) for a regexp_match array `m`; times without an offset are
    read in the time zone `tz`."""
    d = _date_parts(m, fmt)
    args = f"{d['year']}, {d['month']}, {d['day']}, {d['hour']}, {d['minute']}, {d['seconds']}"
    local = f"make_timestamptz({args}, {tz})"
    if d["zone"] is None:
        return d["valid"], local
    array, index, offset = d["zone"]
    with_offset = f"((make_timestamp({args}) - {offset}) AT TIME ZONE 'UTC')"
    return d["valid"], f"(CASE WHEN {array}[{index}] IS NULL THEN {local} ELSE {with_offset} END)"


def _date(m: str, fmt: DateFormat) -> tuple[str, str]:
    d = _date_parts(m, fmt)
    return d["valid"], f"make_date({d['year']}, {d['month']}, {d['day']})"


def _first_valid(options: list[tuple[str, str]]) -> str:
    return (
        "COALESCE(" + ", ".join(f"CASE WHEN {ok} THEN {value} END" for ok, value in options) + ")"
    )


def _text(v: str) -> str:
    return f"NULLIF(btrim({v}), '')"


def _country(v: str, p: Params, strict: bool) -> tuple[str, str]:
    """(ISO code or null, condition for "not a country") from a code or a country name."""
    names = p(json.dumps(COUNTRY_CODES))
    lookup = f"(CAST({names} AS jsonb) -> lower({v}))"
    code = (
        f"(CASE WHEN {lookup} IS NOT NULL THEN NULLIF({lookup} #>> '{{}}', '') "
        f"WHEN {v} ~ {p(RE_COUNTRY_CODE)} THEN upper({v}) END)"
    )
    unknown = f"({v} IS NOT NULL AND {code} IS NULL AND {lookup} IS NULL)" if strict else "false"
    return code, unknown


# Free text that a native file carries exactly (not trimmed), so export → import → export
# gives the same file. Keys (external ids) are always trimmed.
EXACT_TEXT = {"description", "category", "merchant", "customer_name", "name"}
# Keys and emails are trimmed, but carry the export's formula guard too (an id `=X1` is
# exported as `'=X1`), which a native import takes off again.
GUARDED_KEYS = {"external_id", "customer_ref", "email"}


class _Builder:
    """Three nested SELECTs over the staging table: level 1 reads each row's text (and what
    depends on that row alone), level 2 derives typed values and windows, level 3 applies the
    rules and names the output columns. OFFSET 0 keeps PostgreSQL from merging the levels, which
    would evaluate each expression once per reference instead of once per row."""

    def __init__(self, plan: SourcePlan, params: Params, staging: str) -> None:
        self.plan = plan
        self.exact = plan.format in (ImportFormat.native_csv, ImportFormat.json)
        self.neutralised = params(RE_NEUTRALISED) if self.exact else ""
        self.aliases: set[str] = set()
        self.p = params
        self.staging = staging
        self.level1: list[str] = ["s.row_no"]
        self.level2: list[str] = ["l1.row_no"]
        self.windows: list[str] = []

    def column(self, name: str) -> str:
        """The header name of a field's column, as a bind parameter (for problem reports)."""
        return self.p(self.plan.columns[name].name)

    def raw(self, name: str) -> str:
        """A field's trimmed text, for level-2 expressions (NULL when the file has no such
        column)."""
        if name not in self.plan.columns:
            return "CAST(NULL AS text)"
        alias = f"r_{name}"
        if alias in self.aliases:
            return f"l1.{alias}"
        self.aliases.add(alias)
        ref = self.plan.columns[name].ref
        if self.exact and name in EXACT_TEXT:
            value = f"NULLIF({ref}, '')"
            pattern, keep_break = self.p(RE_NEUTRALISED_LINES), self.p(r"\1")
            expression = f"regexp_replace({value}, {pattern}, {keep_break}, 'g') AS {alias}"
        elif self.exact and name in GUARDED_KEYS:
            value = _text(ref)
            expression = (
                f"CASE WHEN {value} ~ {self.neutralised} THEN btrim(substr({value}, 2)) "
                f"ELSE {value} END AS {alias}"
            )
        else:
            expression = f"{_text(ref)} AS {alias}"
        self.level1.append(expression)
        self.level2.append(f"l1.{alias}")
        return f"l1.{alias}"

    def source(self, name: str) -> str:
        """A field's trimmed text, for level-1 expressions (straight from the staging row)."""
        return _text(self.plan.columns[name].ref)

    def scalar(self, alias: str, expression: str) -> tuple[str, str]:
        """A value computed from one staging row at level 1 (from `source`); returns its level-2
        and level-3 references."""
        self.level1.append(f"{expression} AS {alias}")
        self.level2.append(f"l1.{alias}")
        return f"l1.{alias}", f"l2.{alias}"

    def typed(self, alias: str, expression: str) -> str:
        self.level2.append(f"{expression} AS {alias}")
        return f"l2.{alias}"

    def text(self, name: str) -> str:
        """A field's trimmed text, for level-3 expressions (rules and output)."""
        self.raw(name)
        return f"l2.r_{name}" if name in self.plan.columns else "CAST(NULL AS text)"

    def dates(self, name: str, tz: str | None) -> str:
        """Level-2 expression reading a field as a timestamptz (times without offset in `tz`),
        or as a date when `tz` is None; NULL when no format of the plan fits."""
        options = []
        for i, fmt in enumerate(self.plan.date_formats):
            if fmt.kind != "pattern":
                options.append(_fast_date(self.raw(name), fmt, self.p, tz))
                continue
            v = _text(self.plan.columns[name].ref)
            self.level1.append(f"regexp_match({v}, {self.p(fmt.regex)}) AS dm{i}")
            self.level2.append(f"l1.dm{i}")
            if tz is None:
                options.append(_date(f"l1.dm{i}", fmt))
            else:
                options.append(_timestamp(f"l1.dm{i}", fmt, tz))
        return _first_valid(options)

    def duplicate(self, name: str, value: str) -> Check:
        """The check flagging every row after the first with the same text in `name`'s column
        (a window numbers the file's rows by that text)."""
        raw = self.raw(name)
        self.windows.append(
            f"CASE WHEN {raw} IS NOT NULL THEN min(l1.row_no) OVER "
            f"(PARTITION BY {raw}) END AS first_row"
        )
        return Check(
            "l2.first_row < l2.row_no",
            self.column(name),
            value,
            f"duplicate {name} (also on an earlier row)",
        )

    def date_label(self) -> str:
        return " or ".join(fmt.label for fmt in self.plan.date_formats)

    def sql(self, level3: list[str], joins: str = "") -> str:
        return (
            f"SELECT {', '.join(level3)} FROM ("
            f"SELECT {', '.join(self.level2 + self.windows)} FROM ("
            f"SELECT {', '.join(self.level1)} FROM {self.staging} s OFFSET 0"
            f") l1 OFFSET 0) l2 {joins}"
        )


def _first_problem(checks: list[Check], p: Params) -> str:
    if not checks:
        return "CAST(NULL AS text[])"
    whens = " ".join(
        f"WHEN {c.condition} THEN ARRAY[{c.column}, left({c.value}, 200), {p(c.reason)}]"
        for c in checks
    )
    return f"CASE {whens} END"


def transaction_rows(
    plan: SourcePlan, staging: str, *, org_id: int, timezone: str, currency: str
) -> ParseQuery:
    """Typed transactions from the staged file, one per record, with problem and skip arrays.

    Level-2 expressions (typed values) read `b.raw`; level-3 ones (rules, output) read `b.text`
    and typed values.
    """
    p = Params()
    b = _Builder(plan, p, staging)
    fmt = plan.format
    online_retail = fmt is ImportFormat.online_retail
    native = fmt in (ImportFormat.native_csv, ImportFormat.json)
    tz, org = p(timezone), p(org_id)
    checks: list[Check] = []
    skips: list[Check] = []

    if online_retail:
        checks.append(Check(f"{b.text('invoice')} IS NULL", b.column("invoice"), "''", "required"))
        checks.append(Check(f"{b.text('stock')} IS NULL", b.column("stock"), "''", "required"))

    # customer: an external id (created when new), or for native files a database id
    customer_raw = b.raw("customer_ref")
    if online_retail:
        customer_ref = b.typed(
            "customer_ref",
            f"CASE WHEN strpos({customer_raw}, '.') > 0 AND {customer_raw} ~ "
            f"{p(RE_SPREADSHEET_ID)} THEN split_part({customer_raw}, '.', 1) "
            f"ELSE {customer_raw} END",
        )
        skips.append(
            Check(f"{customer_ref} IS NULL", b.column("customer_ref"), "''", "no CustomerID")
        )
    else:
        customer_ref = b.typed("customer_ref", customer_raw)
    customer_db_id = "CAST(NULL AS bigint)"
    joins = ""
    if plan.has("customer_db_id"):
        customer_db_id = b.typed(
            "customer_db_id",
            f"CASE WHEN {customer_raw} IS NULL AND {b.raw('customer_db_id')} ~ "
            f"{p(RE_DATABASE_ID)} THEN CAST({b.raw('customer_db_id')} AS bigint) END",
        )
        joins = f"LEFT JOIN customers known ON known.org_id = {org} AND known.id = {customer_db_id}"
    customer_column = "customer_ref" if plan.has("customer_ref") else "customer_db_id"
    if not online_retail:
        missing = f"{customer_ref} IS NULL"
        if plan.has("customer_db_id"):
            missing += f" AND {b.text('customer_db_id')} IS NULL"
        checks.append(Check(missing, b.column(customer_column), "''", "required"))
    checks.append(
        Check(
            f"length({customer_ref}) > 100",
            b.column(customer_column),
            customer_ref,
            "longer than 100 characters",
        )
    )
    if plan.has("customer_db_id"):
        db_text = b.text("customer_db_id")
        checks.append(
            Check(
                f"{customer_ref} IS NULL AND {db_text} IS NOT NULL AND known.id IS NULL",
                b.column("customer_db_id"),
                db_text,
                "no such customer in this organisation (give customer_external_id)",
            )
        )

    # date
    occurred_at = b.typed("occurred_at", b.dates("date", tz))
    date_text = b.text("date")
    checks.append(Check(f"{date_text} IS NULL", b.column("date"), "''", "required"))
    checks.append(
        Check(
            f"{occurred_at} IS NULL", b.column("date"), date_text, f"not a date ({b.date_label()})"
        )
    )

    # quantity, then amount (given, or quantity × price)
    comma = plan.decimal_comma
    quantity = None
    if plan.has("quantity"):
        quantity_l1, quantity = b.scalar("quantity_n", _int(b.source("quantity"), p))
        quantity_text = b.text("quantity")
        if online_retail:
            checks.append(Check(f"{quantity_text} IS NULL", b.column("quantity"), "''", "required"))
        checks.append(
            Check(
                f"{quantity_text} IS NOT NULL AND {quantity} IS NULL",
                b.column("quantity"),
                quantity_text,
                "not a whole number",
            )
        )
    if plan.has("amount"):
        given_l1, given = b.scalar("amount_n", _decimal(b.source("amount"), p, comma))
        amount_column, amount_text = b.column("amount"), b.text("amount")
        checks.append(Check(f"{amount_text} IS NULL", amount_column, "''", "required"))
        checks.append(Check(f"{given} IS NULL", amount_column, amount_text, "not a number"))
        if native:
            checks.append(
                Check(
                    f"{given} <> round({given}, 2)",
                    amount_column,
                    amount_text,
                    "more than two decimal places",
                )
            )
        amount = b.typed("amount", f"round({given_l1}, 2)")
    else:
        price_l1, price = b.scalar("price_n", _decimal(b.source("price"), p, comma))
        amount_column, amount_text = b.column("price"), b.text("price")
        checks.append(Check(f"{amount_text} IS NULL", amount_column, "''", "required"))
        checks.append(Check(f"{price} IS NULL", amount_column, amount_text, "not a number"))
        if not online_retail:
            checks.append(Check(f"{quantity} IS NULL", b.column("quantity"), "''", "required"))
        amount = b.typed("amount", f"round({quantity_l1} * {price_l1}, 2)")
    checks.append(
        Check(f"abs({amount}) >= {MAX_AMOUNT}", amount_column, amount_text, "amount too large")
    )
    if quantity and native:
        checks.append(
            Check(
                f"{quantity} NOT BETWEEN 1 AND {MAX_QUANTITY}",
                b.column("quantity"),
                b.text("quantity"),
                f"must be between 1 and {MAX_QUANTITY}",
            )
        )
    elif quantity:
        checks.append(
            Check(
                f"abs({quantity}) > {MAX_QUANTITY}",
                b.column("quantity"),
                b.text("quantity"),
                f"more than {MAX_QUANTITY}",
            )
        )
    if not quantity:
        out_quantity = "1"
    elif native:
        out_quantity = f"COALESCE({quantity}, 1)"
    else:  # a return line's quantity is negative; the row's kind carries the sign
        out_quantity = f"GREATEST(abs(COALESCE({quantity}, 1)), 1)"
    if online_retail:
        skips.append(
            Check(f"{amount} = 0", amount_column, amount_text, "zero amount (price or quantity 0)")
        )
        checks.append(
            Check(
                f"upper(left({b.text('invoice')}, 1)) = 'C' AND {amount} > 0",
                b.column("quantity"),
                b.text("quantity"),
                "a cancellation (C invoice) needs a negative quantity",
            )
        )
    else:
        checks.append(Check(f"{amount} = 0", amount_column, amount_text, "the amount is zero"))

    # kind: from the sign, or given and then checked against the sign
    kind = f"(CASE WHEN {amount} < 0 THEN 'refund' ELSE 'purchase' END)"
    if plan.has("kind"):
        kind_text = b.text("kind")
        kind = f"COALESCE(lower({kind_text}), {kind})"
        checks.append(
            Check(
                f"lower({kind_text}) NOT IN ('purchase', 'refund')",
                b.column("kind"),
                kind_text,
                "not purchase or refund",
            )
        )
        checks.append(
            Check(
                f"lower({kind_text}) = 'purchase' AND {amount} < 0",
                amount_column,
                amount_text,
                "a purchase needs a positive amount",
            )
        )
        checks.append(
            Check(
                f"lower({kind_text}) = 'refund' AND {amount} > 0",
                amount_column,
                amount_text,
                "a refund needs a negative amount",
            )
        )

    # category
    if online_retail:
        whens = " ".join(
            f"WHEN {p(code)} THEN {p(name)}" for code, name in STOCK_CODE_CATEGORIES.items()
        )
        category = f"(CASE upper({b.text('stock')}) {whens} ELSE {p(PRODUCT_CATEGORY)} END)"
    elif native:
        category = b.text("category")
        checks.append(Check(f"{category} IS NULL", b.column("category"), "''", "required"))
    else:
        category = f"COALESCE({b.text('category')}, {p(DEFAULT_CATEGORY)})"

    # currency
    currency_sql = p(currency)
    if plan.has("currency"):
        currency_text = b.text("currency")
        currency_sql = f"COALESCE(upper({currency_text}), {currency_sql})"
        checks.append(
            Check(
                f"{currency_text} !~ {p(RE_CURRENCY)}",
                b.column("currency"),
                currency_text,
                "not a three-letter currency code",
            )
        )

    for name, limit in (("category", 100), ("merchant", 200), ("customer_name", 200)):
        if plan.has(name) and not (online_retail and name == "category"):
            checks.append(
                Check(
                    f"length({b.text(name)}) > {limit}",
                    b.column(name),
                    b.text(name),
                    f"longer than {limit} characters",
                )
            )
    country = "CAST(NULL AS text)"
    if plan.has("country"):
        country, _ = _country(b.text("country"), p, strict=False)

    # external id: given, or the Online Retail line's natural key
    external_id = "CAST(NULL AS text)"
    if online_retail:
        b.windows.append(
            f"row_number() OVER (PARTITION BY {b.raw('invoice')}, {b.raw('stock')} "
            "ORDER BY l1.row_no) AS occurrence"
        )
        external_id = f"({b.text('invoice')} || ':' || {b.text('stock')} || ':' || l2.occurrence)"
        checks.append(
            Check(
                f"length({external_id}) > 100",
                b.column("invoice"),
                b.text("invoice"),
                "InvoiceNo and StockCode too long",
            )
        )
    elif plan.has("external_id"):
        external_id = b.text("external_id")
        duplicate = b.duplicate("external_id", external_id)
        checks.append(
            Check(
                f"length({external_id}) > 100",
                b.column("external_id"),
                external_id,
                "longer than 100 characters",
            )
        )
        checks.append(duplicate)

    level3 = [
        "l2.row_no",
        f"{customer_ref} AS customer_ref",
        f"{customer_db_id} AS customer_db_id",
        f"{b.text('customer_name')} AS customer_name",
        f"{country} AS country",
        f"{occurred_at} AS occurred_at",
        f"{amount} AS amount",
        f"{currency_sql} AS currency",
        f"{category} AS category",
        f"COALESCE({b.text('description')}, '') AS description",
        f"{out_quantity} AS quantity",
        f"{kind} AS kind",
        f"{b.text('merchant')} AS merchant_name",
        f"{external_id} AS external_id",
        f"{_first_problem(checks, p)} AS problem",
        f"{_first_problem(skips, p)} AS skip",
    ]
    return ParseQuery(b.sql(level3, joins), p.values, TRANSACTION_PREVIEW_COLUMNS)


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
CUSTOMER_PREVIEW_COLUMNS = [
    "external_id",
    "name",
    "email",
    "country",
    "signup_date",
    "lifecycle_stage",
]


def customer_rows(plan: SourcePlan, staging: str) -> ParseQuery:
    """Typed customers from the staged file, one per record, with problem and skip arrays."""
    p = Params()
    b = _Builder(plan, p, staging)
    online_retail = plan.format is ImportFormat.online_retail
    checks: list[Check] = []
    skips: list[Check] = []

    key = "customer_ref" if online_retail else "external_id"
    raw_id = b.raw(key)
    if online_retail:  # one customer per CustomerID, however many invoice lines name it
        external_id = b.typed(
            "ext",
            f"CASE WHEN {raw_id} ~ {p(RE_SPREADSHEET_ID)} "
            f"THEN split_part({raw_id}, '.', 1) ELSE {raw_id} END",
        )
        skips.append(Check(f"{external_id} IS NULL", b.column(key), "''", "no CustomerID"))
    else:
        external_id = b.typed("ext", raw_id)
        checks.append(Check(f"{external_id} IS NULL", b.column(key), "''", "required"))
        checks.append(b.duplicate(key, external_id))
    checks.append(
        Check(
            f"length({external_id}) > 100", b.column(key), external_id, "longer than 100 characters"
        )
    )

    name = b.text("name")
    if plan.has("name"):
        checks.append(
            Check(f"length({name}) > 200", b.column("name"), name, "longer than 200 characters")
        )
    email = b.text("email")
    if plan.has("email"):
        checks.append(
            Check(
                f"({email} !~ {p(RE_EMAIL)} OR length({email}) > 320)",
                b.column("email"),
                email,
                "not an email address",
            )
        )
    country = "CAST(NULL AS text)"
    if plan.has("country"):
        country_text = b.text("country")
        country, unknown = _country(country_text, p, strict=not online_retail)
        checks.append(Check(unknown, b.column("country"), country_text, "not a country"))
    signup_date = "CAST(NULL AS date)"
    if plan.has("date"):
        signup_date = b.typed("signup_date", b.dates("date", None))
        date_text = b.text("date")
        checks.append(
            Check(
                f"{date_text} IS NOT NULL AND {signup_date} IS NULL",
                b.column("date"),
                date_text,
                f"not a date ({b.date_label()})",
            )
        )
    stage = "'customer'"
    if plan.has("lifecycle_stage"):
        stage_text = b.text("lifecycle_stage")
        stage = f"COALESCE(lower({stage_text}), 'customer')"
        allowed = ", ".join(f"'{s}'" for s in LIFECYCLE_STAGES)
        checks.append(
            Check(
                f"lower({stage_text}) NOT IN ({allowed})",
                b.column("lifecycle_stage"),
                stage_text,
                f"not one of {', '.join(LIFECYCLE_STAGES)}",
            )
        )
    level3 = [
        "l2.row_no",
        f"{external_id} AS external_id",
        f"COALESCE({name}, 'Customer ' || {external_id}) AS name",
        f"lower({email}) AS email",
        f"{country} AS country",
        f"{signup_date} AS signup_date",
        f"{stage} AS lifecycle_stage",
        f"{_first_problem(checks, p)} AS problem",
        f"{_first_problem(skips, p)} AS skip",
    ]
    return ParseQuery(b.sql(level3), p.values, CUSTOMER_PREVIEW_COLUMNS)


MERCHANT_PREVIEW_COLUMNS = ["name", "default_category"]


def merchant_rows(plan: SourcePlan, staging: str) -> ParseQuery:
    """Typed merchants (name, default category) from the staged file, one per record."""
    p = Params()
    b = _Builder(plan, p, staging)
    checks: list[Check] = []
    name = b.text("name")
    checks.append(Check(f"{name} IS NULL", b.column("name"), "''", "required"))
    checks.append(b.duplicate("name", name))
    checks.append(
        Check(f"length({name}) > 200", b.column("name"), name, "longer than 200 characters")
    )
    category = b.text("category")
    if plan.has("category"):
        checks.append(
            Check(
                f"length({category}) > 100",
                b.column("category"),
                category,
                "longer than 100 characters",
            )
        )
    level3 = [
        "l2.row_no",
        f"{name} AS name",
        f"{category} AS default_category",
        f"{_first_problem(checks, p)} AS problem",
        f"{_first_problem([], p)} AS skip",
    ]
    return ParseQuery(b.sql(level3), p.values, MERCHANT_PREVIEW_COLUMNS)


def parse_query(
    plan: SourcePlan, staging: str, *, org_id: int, timezone: str, currency: str
) -> ParseQuery:
    if plan.kind is ImportKind.transactions:
        return transaction_rows(plan, staging, org_id=org_id, timezone=timezone, currency=currency)
    if plan.kind is ImportKind.merchants:
        return merchant_rows(plan, staging)
    return customer_rows(plan, staging)
