"""Business rules of imports: a file is checked and staged with COPY in the request, then read,
validated and merged in SQL by a job; a dry run does the same reading without writing anything.

All or nothing (the default): one bad row and nothing is written, the job fails with the report.
Skip bad rows: the good rows are written and each bad one is listed. Rows the format says not to
import (Online Retail lines without CustomerID or with a zero amount) are reported as skipped in
both modes. Re-importing a file adds nothing: rows are matched on their external id. The job
itself is in spendlens.imports.job.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from spendlens.errors import Unprocessable
from spendlens.imports import repository
from spendlens.imports.files import InspectedFile, inspect_upload
from spendlens.imports.formats import SourcePlan, plan_source
from spendlens.imports.parsing import ParseQuery, parse_query
from spendlens.imports.schemas import (
    ColumnMapping,
    DryRunOut,
    FileEncoding,
    ImportFormat,
    ImportKind,
    ImportMode,
    ImportPreviewRow,
    ImportSummary,
)
from spendlens.jobs.registry import enqueue, record_job
from spendlens.jobs.runner import MAX_REPORTED_ERRORS
from spendlens.jobs.schemas import JobOut, JobProblem
from spendlens.models import Job, Organization, User

JOB_KIND = "import"
PREVIEW_ROWS = 20
# Sorting and hashing a million staged rows wants more than the default 4 MB.
IMPORT_WORK_MEM = "256MB"


@dataclass(frozen=True)
class ImportOptions:
    kind: ImportKind = ImportKind.transactions
    format: ImportFormat = ImportFormat.native_csv
    mode: ImportMode = ImportMode.all_or_nothing
    dry_run: bool = False
    mapping: ColumnMapping | None = None
    encoding: FileEncoding = FileEncoding.utf_8
    filename: str = "upload"

    @property
    def delimiter(self) -> str:
        if self.format is ImportFormat.custom and self.mapping is not None:
            return self.mapping.delimiter
        return ","

    def as_params(self) -> dict[str, Any]:
        values = asdict(self)
        values.pop("dry_run")
        values["mapping"] = self.mapping.model_dump() if self.mapping else None
        for key in ("kind", "format", "mode", "encoding"):
            values[key] = values[key].value
        return values

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "ImportOptions":
        mapping = params.get("mapping")
        return cls(
            kind=ImportKind(params["kind"]),
            format=ImportFormat(params["format"]),
            mode=ImportMode(params["mode"]),
            mapping=ColumnMapping.model_validate(mapping) if mapping else None,
            encoding=FileEncoding(params["encoding"]),
            filename=params.get("filename", "upload"),
        )


@dataclass
class CheckedUpload:
    """An upload that passed the checks done before anything is staged."""

    options: ImportOptions
    file: InspectedFile
    plan: SourcePlan


def check_upload(stream: BinaryIO, options: ImportOptions) -> CheckedUpload:
    """415 for a binary, 422 for a wrong encoding or columns the format does not have."""
    if options.format is ImportFormat.custom and options.mapping is None:
        raise Unprocessable("A custom import needs a column mapping", loc=("body", "mapping"))
    inspected = inspect_upload(
        stream,
        kind=options.kind,
        fmt=options.format,
        encoding=options.encoding,
        delimiter=options.delimiter,
    )
    plan = plan_source(options.kind, options.format, inspected.header, options.mapping)
    if inspected.json_ignored:
        plan.ignored = inspected.json_ignored
    return CheckedUpload(options, inspected, plan)


def _stage(conn: Connection, name: str, upload: CheckedUpload, *, temporary: bool) -> int:
    inspected = upload.file
    columns = len(inspected.header)
    repository.create_staging(conn, name, columns, temporary=temporary)
    try:
        rows = repository.copy_into_staging(
            conn,
            name,
            columns,
            inspected.copy_source(),
            delimiter=inspected.delimiter,
            encoding=inspected.encoding.value,
        )
    except repository.CopyRejected as exc:
        where = f"Line {exc.line} of the file: " if exc.line else ""
        hint = ""
        if "encoding" in str(exc) or "byte sequence" in str(exc):
            hint = " (send encoding=cp1252 or latin-1 if the file is not UTF-8)"
        raise Unprocessable(f"{where}{exc}{hint}", loc=("body", "file"))
    if rows == 0:
        raise Unprocessable("The file has no rows after its header", loc=("body", "file"))
    return rows


def parse_staged(
    conn: Connection, org_id: int, plan: SourcePlan, staging: str, parsed: str
) -> ParseQuery:
    """Parse and check the staged rows into the table `parsed`, with the organisation's time zone
    (for dates written without an offset) and currency."""
    timezone, currency = repository.org_settings(conn, org_id)
    query = parse_query(plan, staging, org_id=org_id, timezone=timezone, currency=currency)
    repository.create_parsed(conn, parsed, query)
    return query


def _problem(values: Any) -> JobProblem | None:
    if values is None:
        return None
    return JobProblem(column=values[0], value=values[1] or None, reason=values[2])


# --- dry run -------------------------------------------------------------------------------------


def dry_run(conn: Connection, org_id: int, upload: CheckedUpload) -> DryRunOut:
    """Stage, parse and check the file in temporary tables, and report; writes nothing."""
    suffix = uuid.uuid4().hex[:12]
    staging, parsed = f"import_preview_{suffix}", f"import_parsed_{suffix}"
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'")
    _stage(conn, staging, upload, temporary=True)
    query = parse_staged(conn, org_id, upload.plan, staging, parsed)
    counts = repository.counts(conn, parsed)
    if upload.options.kind is ImportKind.transactions:
        would = repository.would_add_transactions(conn, parsed, org_id)
        new = counts.valid - would["already_present"]
        customers, merchants = would["customers_created"], would["merchants_created"]
    elif upload.options.kind is ImportKind.merchants:
        would = repository.would_add_merchants(conn, parsed, org_id)
        new, customers, merchants = would["new"], 0, would["new"]
    else:
        would = repository.would_add_customers(conn, parsed, org_id)
        new, customers, merchants = would["new"], would["new"], 0
    preview = []
    for row in repository.preview(conn, parsed, query.columns, PREVIEW_ROWS):
        values = dict(zip(query.columns, row[1:-2]))
        preview.append(
            ImportPreviewRow(
                row=row[0], values=values, problem=_problem(row[-2]), skipped=_problem(row[-1])
            )
        )
    errors = repository.problems(conn, parsed, skipped=False, limit=MAX_REPORTED_ERRORS)
    skipped = repository.problems(conn, parsed, skipped=True, limit=MAX_REPORTED_ERRORS)
    repository.drop_table(conn, parsed)
    repository.drop_table(conn, staging)
    options = upload.options
    return DryRunOut(
        kind=options.kind,
        format=options.format,
        columns=[name.strip() for name in upload.file.header],
        ignored_columns=upload.plan.ignored,
        summary=ImportSummary(
            rows=counts.rows,
            valid=counts.valid,
            invalid=counts.invalid,
            skipped=counts.skipped,
            new=new,
            already_present=would["already_present"],
            customers_created=customers,
            merchants_created=merchants,
        ),
        would_succeed=counts.invalid == 0 or options.mode is ImportMode.skip_bad_rows,
        errors=[JobProblem(**e) for e in errors],
        skipped_rows=[JobProblem(**e) for e in skipped],
        preview=preview,
        generated_at=datetime.now(UTC),
    )


# --- queueing -----------------------------------------------------------------------------------


def create_import_job(
    session: Session,
    org: Organization,
    user: User | None,
    upload: CheckedUpload,
    *,
    queue: bool = True,
) -> Job:
    """Record the job, COPY the file into its staging table and queue it, in the caller's
    transaction: the job exists for workers exactly when its data does."""
    params = upload.options.as_params()
    params.update(
        size=upload.file.size,
        columns=[name.strip() for name in upload.file.header],
        ignored_columns=upload.plan.ignored,
    )
    conn = session.connection()
    record = enqueue if queue else record_job
    job_id = record(conn, org.id, JOB_KIND, params, created_by=user.id if user else None)
    job = session.get(Job, (org.id, job_id))
    job.total = _stage(conn, repository.staging_table(job_id), upload, temporary=False)
    session.flush()
    return job


def start_import(
    session: Session, org: Organization, user: User, upload: CheckedUpload
) -> JobOut | DryRunOut:
    if upload.options.dry_run:
        return dry_run(session.connection(), org.id, upload)
    return JobOut.model_validate(create_import_job(session, org, user, upload))
