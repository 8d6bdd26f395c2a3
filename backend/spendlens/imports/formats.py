"""The import formats: which columns each one has, which are required, and how a file's header
maps onto the fields of a transaction or a customer.

Native CSV is the layout of `GET /transactions/export.csv` (and of the customers export); JSON
holds the same fields as a list of objects; Online Retail is the UCI invoice-line layout; a custom
CSV names its columns through a `ColumnMapping`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spendlens.errors import Unprocessable
from spendlens.imports.schemas import ColumnMapping, ImportFormat, ImportKind

# Exported for reference only: database ids mean nothing in another organisation.
NATIVE_IGNORED = ("id", "created_at")

# Online Retail stock codes that are not products: postage, discounts, manual lines, fees.
STOCK_CODE_CATEGORIES = {
    "POST": "Postage",
    "DOT": "Postage",
    "C2": "Postage",
    "D": "Discount",
    "M": "Manual",
    "BANK CHARGES": "Fees",
    "AMAZONFEE": "Fees",
    "CRUK": "Fees",
}
PRODUCT_CATEGORY = "Merchandise"
DEFAULT_CATEGORY = "Uncategorized"


@dataclass(frozen=True)
class Column:
    """A column of the uploaded file: its header text and its staging column (c1, c2 …)."""

    name: str
    ref: str


@dataclass(frozen=True)
class DateFormat:
    """How dates are written.

    `iso` and `mdy` are read with a strict regular expression (which also bounds month, hour,
    minute, second and offset) and cheap string slicing; a custom `pattern` captures the date's
    parts with regexp groups, which PostgreSQL does about twenty times more slowly.
    """

    kind: str  # "iso", "mdy" or "pattern"
    regex: str
    label: str
    groups: dict[str, int] = field(default_factory=dict)


_MONTH = "(0[1-9]|1[0-2])"
_DAY = "(0[1-9]|[12][0-9]|3[01])"
_TIME = "([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]+)?)?"
_OFFSET = "(Z|[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?)"

# 2026-06-30, 2026-06-30 12:00, 2026-06-30T12:00:00.123+02:00, …Z
ISO_DATES = DateFormat(
    kind="iso",
    regex=f"^[0-9]{{4}}-{_MONTH}-{_DAY}([T ]{_TIME})? ?{_OFFSET}?$",
    label="ISO 8601 (YYYY-MM-DD[THH:MM[:SS]][±HH:MM])",
)
# 12/1/2010 8:26 as in Online Retail; seconds optional.
MDY_DATES = DateFormat(
    kind="mdy",
    regex="^(0?[1-9]|1[0-2])/(0?[1-9]|[12][0-9]|3[01])/[0-9]{4}"
    "( ([01]?[0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9])?)?$",
    label="M/D/YYYY H:MM",
)

_STRPTIME_PARTS = {
    "Y": (r"(\d{4})", ("year",)),
    "y": (r"(\d{2})", ("year2",)),
    "m": (r"(\d{1,2})", ("month",)),
    "d": (r"(\d{1,2})", ("day",)),
    "H": (r"(\d{1,2})", ("hour",)),
    "I": (r"(\d{1,2})", ("hour12",)),
    "M": (r"(\d{1,2})", ("minute",)),
    "S": (r"(\d{1,2})", ("second",)),
    "f": (r"(\d{1,6})", ("fraction",)),
    "p": (r"([AaPp][Mm])", ("ampm",)),
    "b": (r"([A-Za-z]{3})", ("month_name",)),
    "B": (r"([A-Za-z]{3,9})", ("month_name",)),
    "z": (r"(Z|([+-])(\d{2}):?(\d{2}))", ("zone", "zone_sign", "zone_hours", "zone_minutes")),
}


def strptime_format(spec: str) -> DateFormat:
    """A DateFormat from a strptime format such as `%d.%m.%Y %H:%M`."""
    regex, groups, count, i = "^", {}, 0, 0
    while i < len(spec):
        char = spec[i]
        if char == "%" and i + 1 < len(spec):
            code = spec[i + 1]
            i += 2
            if code == "%":
                regex += "%"
                continue
            pattern, names = _STRPTIME_PARTS[code]
            for name in names:
                count += 1
                groups[name] = count
            regex += pattern
            continue
        regex += r"\s+" if char.isspace() else ("\\" + char if not char.isalnum() else char)
        i += 1
    if not ({"year", "year2"} & groups.keys() and {"month", "month_name"} & groups.keys()):
        raise Unprocessable(
            "date_format needs a year (%Y or %y), a month (%m, %b or %B) and a day (%d)",
            loc=("body", "mapping", "date_format"),
        )
    if "day" not in groups:
        raise Unprocessable("date_format needs a day (%d)", loc=("body", "mapping", "date_format"))
    return DateFormat("pattern", regex + "$", f"the format {spec}", groups)


@dataclass
class SourcePlan:
    """Where each field of the target rows comes from in the staged file."""

    kind: ImportKind
    format: ImportFormat
    columns: dict[str, Column]
    ignored: list[str]
    date_formats: tuple[DateFormat, ...] = (ISO_DATES,)
    decimal_comma: bool = False
    header: list[str] = field(default_factory=list)

    def has(self, name: str) -> bool:
        return name in self.columns


def _normalise(name: str) -> str:
    return name.strip().lstrip("\ufeff").strip().lower()


def _index_header(header: list[str]) -> dict[str, int]:
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        key = _normalise(name)
        if not key:
            continue
        if key in seen:
            raise Unprocessable(f"The column {name.strip()!r} appears twice", loc=("body", "file"))
        seen[key] = position
    return seen


def _require(
    found: dict[str, Column], required: list[str], names: dict[str, str], fmt: ImportFormat
) -> None:
    missing = [names[key] for key in required if key not in found]
    if missing:
        raise Unprocessable(
            f"Not a {fmt.value} file: missing column(s) {', '.join(missing)}",
            loc=("body", "file"),
        )


def _by_names(header: list[str], wanted: dict[str, str]) -> tuple[dict[str, Column], list[str]]:
    """`wanted` maps field → column name; returns the fields found and the unused columns."""
    positions = _index_header(header)
    found: dict[str, Column] = {}
    for field_name, column_name in wanted.items():
        position = positions.get(_normalise(column_name))
        if position is not None:
            found[field_name] = Column(header[position - 1].strip(), f"s.c{position}")
    used = {column.ref for column in found.values()}
    ignored = [
        name.strip()
        for position, name in enumerate(header, start=1)
        if f"s.c{position}" not in used and name.strip()
    ]
    return found, ignored


# Canonical field names (what the SQL builder works with) per format: field → file column.
ONLINE_RETAIL_FIELDS = {
    "invoice": "InvoiceNo",
    "stock": "StockCode",
    "description": "Description",
    "quantity": "Quantity",
    "date": "InvoiceDate",
    "price": "UnitPrice",
    "customer_ref": "CustomerID",
    "country": "Country",
}
NATIVE_TRANSACTION_FIELDS = {
    "date": "occurred_at",
    "customer_db_id": "customer_id",
    "customer_ref": "customer_external_id",
    "customer_name": "customer_name",
    "merchant": "merchant",
    "category": "category",
    "description": "description",
    "quantity": "quantity",
    "kind": "kind",
    "amount": "amount",
    "currency": "currency",
    "external_id": "external_id",
}
NATIVE_CUSTOMER_FIELDS = {
    "external_id": "external_id",
    "name": "name",
    "email": "email",
    "country": "country",
    "date": "signup_date",
    "lifecycle_stage": "lifecycle_stage",
}
NATIVE_MERCHANT_FIELDS = {
    "name": "name",
    "category": "default_category",
}
NATIVE_FIELDS = {
    ImportKind.transactions: NATIVE_TRANSACTION_FIELDS,
    ImportKind.customers: NATIVE_CUSTOMER_FIELDS,
    ImportKind.merchants: NATIVE_MERCHANT_FIELDS,
}
# Mapping keys of a custom file → canonical fields.
CUSTOM_TRANSACTION_KEYS = {
    "customer": "customer_ref",
    "customer_name": "customer_name",
    "country": "country",
    "date": "date",
    "amount": "amount",
    "quantity": "quantity",
    "price": "price",
    "category": "category",
    "merchant": "merchant",
    "description": "description",
    "external_id": "external_id",
    "currency": "currency",
    "kind": "kind",
}
CUSTOM_CUSTOMER_KEYS = {
    "external_id": "external_id",
    "name": "name",
    "email": "email",
    "country": "country",
    "signup_date": "date",
    "lifecycle_stage": "lifecycle_stage",
}


def plan_source(
    kind: ImportKind, fmt: ImportFormat, header: list[str], mapping: ColumnMapping | None
) -> SourcePlan:
    """Match the file's header to the format; 422 naming the missing columns if it does not fit."""
    if kind is ImportKind.merchants and fmt not in (ImportFormat.native_csv, ImportFormat.json):
        raise Unprocessable(
            "Merchants import from the native CSV or JSON layout (name, default_category)",
            loc=("body", "format"),
        )
    if fmt is ImportFormat.online_retail:
        found, ignored = _by_names(header, ONLINE_RETAIL_FIELDS)
        if kind is ImportKind.customers:
            required = ["customer_ref"]
        else:
            required = [name for name in ONLINE_RETAIL_FIELDS if name != "country"]
        _require(found, required, ONLINE_RETAIL_FIELDS, fmt)
        return SourcePlan(
            kind, fmt, found, ignored, date_formats=(MDY_DATES, ISO_DATES), header=header
        )

    if fmt in (ImportFormat.native_csv, ImportFormat.json):
        fields = NATIVE_FIELDS[kind]
        known = dict(fields, **{f"ignored:{name}": name for name in NATIVE_IGNORED})
        found, ignored = _by_names(header, known)
        found = {key: column for key, column in found.items() if not key.startswith("ignored:")}
        if kind is ImportKind.transactions:
            _require(found, ["date", "category", "amount"], fields, fmt)
            if not ({"customer_ref", "customer_db_id"} & found.keys()):
                _require(found, ["customer_ref"], fields, fmt)
        elif kind is ImportKind.merchants:
            _require(found, ["name"], fields, fmt)
        else:
            _require(found, ["external_id"], fields, fmt)
        return SourcePlan(kind, fmt, found, ignored, header=header)

    # custom
    if mapping is None:
        raise Unprocessable("A custom import needs a column mapping", loc=("body", "mapping"))
    named = mapping.columns()
    keys = CUSTOM_TRANSACTION_KEYS if kind is ImportKind.transactions else CUSTOM_CUSTOMER_KEYS
    wanted = {keys[key]: column for key, column in named.items() if key in keys}
    if kind is ImportKind.transactions:
        if "customer_ref" not in wanted or "date" not in wanted:
            raise Unprocessable(
                "The mapping must name the `customer` and `date` columns", loc=("body", "mapping")
            )
        if "amount" not in wanted and not {"quantity", "price"} <= wanted.keys():
            raise Unprocessable(
                "The mapping must name `amount`, or both `quantity` and `price`",
                loc=("body", "mapping"),
            )
    elif "external_id" not in wanted:
        raise Unprocessable(
            "The mapping must name the customers' `external_id` column", loc=("body", "mapping")
        )
    found, ignored = _by_names(header, wanted)
    missing = [wanted[key] for key in wanted if key not in found]
    if missing:
        raise Unprocessable(
            f"The file has no column(s) {', '.join(missing)}", loc=("body", "mapping")
        )
    date_formats = (strptime_format(mapping.date_format),) if mapping.date_format else (ISO_DATES,)
    return SourcePlan(
        kind,
        fmt,
        found,
        ignored,
        date_formats=date_formats,
        decimal_comma=mapping.decimal_separator == ",",
        header=header,
    )
