"""HTTP routes of /api/v1/imports."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from spendlens.auth.dependencies import AnalystUser, CurrentOrg
from spendlens.db import SessionDep
from spendlens.errors import ErrorSchema, error_responses
from spendlens.imports import service
from spendlens.imports.schemas import DryRunOut
from spendlens.imports.upload import ImportUploadDep
from spendlens.jobs.schemas import JobOut

router = APIRouter(prefix="/imports", tags=["imports"])

FORMATS_DOC = """
Upload a file (multipart form) to import **transactions** or **customers** into the caller's
organisation. The file is checked at once (a binary gets 415; a wrong encoding or columns the
format does not have get 422; a file over the configured size gets 413), then staged and imported
by a background job: the answer is `202` with the job, whose progress, problems and result
`GET /jobs/{id}` reports. With `dry_run=true` the answer is `200` with a preview of the first 20
parsed rows and the validation report, and nothing is written.

**Form fields**: `file`; `kind` = `transactions` (default) | `customers` | `merchants`; `format` =
`native-csv` (default) | `json` | `online-retail` | `custom`; `mode` = `all-or-nothing`
(default: one bad row and nothing is written, the job fails with the report) | `skip-bad-rows`
(the good rows are written, each bad one is listed); `dry_run` = `false` | `true`; `encoding` =
`utf-8` (default) | `cp1252` | `latin-1` (CSV only); `mapping` = JSON, for `custom`.

Problems are reported as `{row, column, value, reason}`; `row` 1 is the first record after the
header (or the first object of a JSON list). Re-importing a file adds nothing: rows already in the
organisation (same external id) are counted as `already_present`. Dates without a UTC offset are
read in the organisation's time zone.

**native-csv** — the columns of `GET /transactions/export.csv`: `occurred_at` (ISO 8601),
`customer_external_id` (the customer is created when new, named `customer_name`), `amount`
(at most two decimals; negative for refunds), `category`, and optionally `merchant` (created when
new), `description`, `quantity` (≥ 1, default 1), `kind` (`purchase`/`refund`, default by the
amount's sign), `currency` (default the organisation's), `external_id` (the key for re-imports;
rows without one are matched on all their values). `id` is ignored; `customer_id` is used only
when `customer_external_id` is empty and must be a customer of the organisation. Other columns
are ignored and listed. For customers: `external_id` (required), `name`, `email`, `country`
(ISO code or English name), `signup_date` (YYYY-MM-DD), `lifecycle_stage`
(lead/prospect/customer/churned). For merchants (native CSV and JSON only; the layout of
`GET /exports/merchants.csv`): `name` (required, unique in the file) and `default_category`; a
merchant the organisation already has is left as it is.

**json** — a list of objects with the same fields (JSON Lines also work), UTF-8.

**online-retail** — the UCI "Online Retail" invoice lines: `InvoiceNo, StockCode, Description,
Quantity, InvoiceDate, UnitPrice, CustomerID, Country`. amount = Quantity × UnitPrice rounded to
cents; invoices starting with `C` are returns (kind `refund`, negative amount); dates
`M/D/YYYY H:MM` or ISO; `CustomerID` is the customer's external id (`12346.0` reads as `12346`),
`Country` becomes its ISO code. The line's key is `InvoiceNo:StockCode:n` (n-th line with that
pair). Lines without CustomerID and lines whose amount is zero are skipped and reported. Stock
codes `POST`, `DOT`, `C2` are imported as category `Postage`, `D` as `Discount`, `M` as
`Manual`, `BANK CHARGES`/`AMAZONFEE`/`CRUK` as `Fees`, everything else as `Merchandise`; no
merchant is set.

**custom** — any CSV, with `mapping` naming its columns, e.g. `{"customer": "Client", "date":
"Day", "date_format": "%d.%m.%Y", "quantity": "Qty", "price": "Unit price", "category": "Type",
"merchant": "Shop", "external_id": "Ref", "delimiter": ";", "decimal_separator": ","}`. Fields:
`customer`, `date` (required), `amount` or `quantity` + `price`, `customer_name`, `country`,
`category` (default `Uncategorized`), `merchant`, `description`, `external_id`, `currency`,
`kind`; for customers `external_id`, `name`, `email`, `country`, `signup_date`,
`lifecycle_stage`.
"""

_FORM_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"type": "string", "format": "binary"},
        "kind": {"type": "string", "enum": ["transactions", "customers", "merchants"]},
        "format": {"type": "string", "enum": ["native-csv", "json", "online-retail", "custom"]},
        "mode": {"type": "string", "enum": ["all-or-nothing", "skip-bad-rows"]},
        "dry_run": {"type": "boolean"},
        "encoding": {"type": "string", "enum": ["utf-8", "cp1252", "latin-1"]},
        "mapping": {"type": "string", "description": "JSON column mapping (custom format)"},
    },
}


@router.post(
    "",
    response_model=JobOut | DryRunOut,
    status_code=status.HTTP_202_ACCEPTED,
    description=FORMATS_DOC,
    responses={
        200: {"model": DryRunOut, "description": "Dry run: preview and validation report"},
        202: {"model": JobOut, "description": "The import job, queued"},
        415: {"model": ErrorSchema, "description": "Not a text file"},
        **error_responses(401, 403, 413, 422),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": _FORM_SCHEMA}},
        }
    },
)
def create_import(
    user: AnalystUser,
    org: CurrentOrg,
    session: SessionDep,
    upload: ImportUploadDep,
    response: Response,
) -> JobOut | DryRunOut:
    """Import a file of transactions or customers (analysts and admins)."""
    checked = service.check_upload(upload.file.file, upload.options)
    result = service.start_import(session, org, user, checked)
    if isinstance(result, DryRunOut):
        response.status_code = status.HTTP_200_OK
    else:
        response.headers["Location"] = f"/api/v1/jobs/{result.id}"
    return result
