"""The parse query of a merchants file: one merchant (name, default category) per record."""

from __future__ import annotations

from spendlens.imports.formats import NATIVE_MERCHANT_FIELDS, SourcePlan
from spendlens.imports.parsing.builder import RowsBuilder
from spendlens.imports.parsing.query import ParseQuery
from spendlens.models.rules import CATEGORY_LENGTH, NAME_LENGTH

# A preview shows a merchant as the native file writes it.
MERCHANT_PREVIEW_COLUMNS = list(NATIVE_MERCHANT_FIELDS.values())


def merchant_rows(plan: SourcePlan, staging: str) -> ParseQuery:
    """Typed merchants (name, default category) from the staged file, one per record."""
    b = RowsBuilder(plan, staging)
    name = b.text("name")
    b.require("name", name)
    b.reject_duplicates("name", name)
    b.limit_length("name", name, NAME_LENGTH)
    category = b.text("category")
    if plan.has("category"):
        b.limit_length("category", category, CATEGORY_LENGTH)
    output = [f"{name} AS name", f"{category} AS default_category"]
    return b.query(output, MERCHANT_PREVIEW_COLUMNS)
