"""Bodies of the /imports route: options, the custom column mapping and the dry-run report."""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spendlens.jobs.schemas import JobProblem


class ImportKind(str, Enum):
    transactions = "transactions"
    customers = "customers"
    merchants = "merchants"


class ImportFormat(str, Enum):
    native_csv = "native-csv"
    json = "json"
    online_retail = "online-retail"
    custom = "custom"


class ImportMode(str, Enum):
    all_or_nothing = "all-or-nothing"
    skip_bad_rows = "skip-bad-rows"


class FileEncoding(str, Enum):
    utf_8 = "utf-8"
    latin_1 = "latin-1"
    cp1252 = "cp1252"


_STRPTIME_CODES = set("YymdHIMSfpbBz%")


class ColumnMapping(BaseModel):
    """Which column of a custom CSV holds what. Column names are matched case-insensitively.

    A transaction needs `customer`, `date` and either `amount` or both `quantity` and `price`
    (amount = quantity × price, rounded to cents). A customer needs `external_id`.
    """

    model_config = ConfigDict(extra="forbid")

    # transactions
    customer: str | None = Field(default=None, description="Customer external id column")
    customer_name: str | None = None
    country: str | None = Field(default=None, description="ISO code or country name")
    date: str | None = Field(default=None, description="Date (and time) column")
    date_format: str | None = Field(
        default=None,
        description="strptime format of `date` / `signup_date`, e.g. `%d.%m.%Y %H:%M`; "
        "default ISO 8601. Times without an offset are in the organisation's time zone.",
    )
    amount: str | None = None
    quantity: str | None = None
    price: str | None = None
    category: str | None = Field(default=None, description="Default category: Uncategorized")
    merchant: str | None = None
    description: str | None = None
    external_id: str | None = Field(
        default=None, description="Transaction id (transactions) or customer id (customers)"
    )
    currency: str | None = None
    kind: str | None = Field(default=None, description="`purchase`/`refund`; default: by sign")
    # customers
    name: str | None = None
    email: str | None = None
    signup_date: str | None = None
    lifecycle_stage: str | None = None
    # file layout
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    decimal_separator: str = Field(default=".", pattern=r"^[.,]$")

    @field_validator("delimiter")
    @classmethod
    def _usable_delimiter(cls, value: str) -> str:
        if value in ('"', "\r", "\n") or value.isalnum():
            raise ValueError("the delimiter must be a punctuation character or a tab")
        return value

    @field_validator("date_format")
    @classmethod
    def _known_directives(cls, value: str | None) -> str | None:
        if value is None:
            return value
        unknown = {c for c in re.findall(r"%(.)", value)} - _STRPTIME_CODES
        if unknown:
            raise ValueError(f"unsupported strptime directives: {', '.join(sorted(unknown))}")
        if "%" not in value:
            raise ValueError("a date format needs strptime directives such as %Y, %m, %d")
        return value

    @model_validator(mode="after")
    def _separators_differ(self) -> "ColumnMapping":
        if self.delimiter == self.decimal_separator:
            raise ValueError("delimiter and decimal_separator must differ")
        return self

    def columns(self) -> dict[str, str]:
        """Logical field → column name, for the fields that name a column."""
        layout = {"date_format", "delimiter", "decimal_separator"}
        return {
            key: value
            for key, value in self.model_dump().items()
            if key not in layout and value is not None
        }


class ImportPreviewRow(BaseModel):
    """One parsed row as it would be imported (values are null where they could not be read)."""

    row: int
    values: dict[str, Any]
    problem: JobProblem | None = None
    skipped: JobProblem | None = None


class ImportSummary(BaseModel):
    rows: int = Field(description="Records in the file (the header not counted)")
    valid: int = Field(description="Rows that can be imported")
    invalid: int = Field(description="Rows with a problem (see errors)")
    skipped: int = Field(description="Rows the format says not to import (see skipped_rows)")
    new: int = Field(description="Valid rows not in the organisation yet")
    already_present: int = Field(description="Valid rows already imported (same external id)")
    customers_created: int
    merchants_created: int


class DryRunOut(BaseModel):
    """What an import would do, computed without writing anything."""

    kind: ImportKind
    format: ImportFormat
    columns: list[str] = Field(description="The file's columns")
    ignored_columns: list[str] = Field(description="Columns this format does not use")
    summary: ImportSummary
    would_succeed: bool = Field(description="False when all-or-nothing would refuse the file")
    errors: list[JobProblem] = Field(description="The first 1,000 problems")
    skipped_rows: list[JobProblem] = Field(description="The first 1,000 skipped rows")
    preview: list[ImportPreviewRow] = Field(description="The first 20 rows, parsed")
    generated_at: datetime
