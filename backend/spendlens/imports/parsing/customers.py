"""The parse query of a customers file: one typed customer per record (Online Retail: one per
CustomerID, however many invoice lines name it)."""

from __future__ import annotations

from spendlens.imports.formats import NATIVE_CUSTOMER_FIELDS, SourcePlan
from spendlens.kit.dates import EARLIEST_DAY, LATEST_DAY
from spendlens.imports.parsing.builder import RowsBuilder
from spendlens.imports.parsing.cells import RE_EMAIL, country, without_spreadsheet_decimals
from spendlens.imports.parsing.query import ParseQuery
from spendlens.models.rules import (
    DEFAULT_STAGE,
    EMAIL_LENGTH,
    EXTERNAL_ID_LENGTH,
    NAME_LENGTH,
    LifecycleStage,
    sql_values,
)

# A preview shows a customer as the native file writes it.
CUSTOMER_PREVIEW_COLUMNS = list(NATIVE_CUSTOMER_FIELDS.values())


def _external_id(b: RowsBuilder) -> str:
    key = "customer_ref" if b.online_retail else "external_id"
    raw_id = b.raw(key)
    if b.online_retail:
        external_id = b.typed("ext", without_spreadsheet_decimals(raw_id, b.p))
        b.skip(f"{external_id} IS NULL", key, "''", "no CustomerID")
    else:
        external_id = b.typed("ext", raw_id)
        b.require(key, external_id)
        b.reject_duplicates(key, external_id)
    b.limit_length(key, external_id, EXTERNAL_ID_LENGTH)
    return external_id


def _email(b: RowsBuilder) -> str:
    email = b.text("email")
    if b.plan.has("email"):
        b.refuse(
            f"({email} !~ {b.p(RE_EMAIL)} OR length({email}) > {EMAIL_LENGTH})",
            "email",
            email,
            "not an email address",
        )
    return email


def _country(b: RowsBuilder) -> str:
    if not b.plan.has("country"):
        return "CAST(NULL AS text)"
    country_text = b.text("country")
    code, unknown = country(country_text, b.p, strict=not b.online_retail)
    b.refuse(unknown, "country", country_text, "not a country")
    return code


def _signup_date(b: RowsBuilder) -> str:
    if not b.plan.has("date"):
        return "CAST(NULL AS date)"
    signup_date = b.typed("signup_date", b.dates("date", None))
    date_text = b.text("date")
    b.refuse(
        f"{date_text} IS NOT NULL AND {signup_date} IS NULL",
        "date",
        date_text,
        f"not a date ({b.date_label()})",
    )
    b.refuse(
        f"{signup_date} NOT BETWEEN DATE '{EARLIEST_DAY}' AND DATE '{LATEST_DAY}'",
        "date",
        date_text,
        f"not between {EARLIEST_DAY} and {LATEST_DAY}",
    )
    return signup_date


def _lifecycle_stage(b: RowsBuilder) -> str:
    if not b.plan.has("lifecycle_stage"):
        return f"'{DEFAULT_STAGE.value}'"
    stage_text = b.text("lifecycle_stage")
    b.refuse(
        f"lower({stage_text}) NOT IN ({sql_values(LifecycleStage)})",
        "lifecycle_stage",
        stage_text,
        f"not one of {', '.join(stage.value for stage in LifecycleStage)}",
    )
    return f"COALESCE(lower({stage_text}), '{DEFAULT_STAGE.value}')"


def customer_rows(plan: SourcePlan, staging: str) -> ParseQuery:
    """Typed customers from the staged file, one per record, with problem and skip arrays."""
    b = RowsBuilder(plan, staging)
    external_id = _external_id(b)
    name = b.text("name")
    if plan.has("name"):
        b.limit_length("name", name, NAME_LENGTH)
    email = _email(b)
    country_code = _country(b)
    signup_date = _signup_date(b)
    stage = _lifecycle_stage(b)
    output = [
        f"{external_id} AS external_id",
        f"COALESCE({name}, 'Customer ' || {external_id}) AS name",
        f"lower({email}) AS email",
        f"{country_code} AS country",
        f"{signup_date} AS signup_date",
        f"{stage} AS lifecycle_stage",
    ]
    return b.query(output, CUSTOMER_PREVIEW_COLUMNS)
