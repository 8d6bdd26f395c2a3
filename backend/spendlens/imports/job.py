"""The import job: read, check and merge the rows staged by the request, in one transaction."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Connection

from spendlens.health.service import queue_recompute_once as queue_health_recompute
from spendlens.imports import repository
from spendlens.imports.formats import plan_source
from spendlens.imports.schemas import ImportFormat, ImportKind, ImportMode
from spendlens.imports.service import IMPORT_WORK_MEM, JOB_KIND, ImportOptions, parse_staged
from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import MAX_REPORTED_ERRORS, JobOutcome, JobRecord, Progress, tuning
from spendlens.segments.service import queue_recompute as queue_segments_recompute


@job_kind(JOB_KIND, task="imports.run")
def execute_import(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """The import job: parse and check the staged rows, then merge them; one transaction."""
    options = ImportOptions.from_params(job.params)
    staging = repository.staging_table(job.id)
    if not repository.table_exists(conn, staging):
        return JobOutcome(
            "failed",
            {"error": "The uploaded file is no longer staged; upload it again", "retryable": False},
        )
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{IMPORT_WORK_MEM}'")
    plan = plan_source(options.kind, options.format, job.params["columns"], options.mapping)
    progress.set_total(job.total or 0)
    parsed = f"import_parsed_{job.id}"
    with progress.phase("parse"):
        parse_staged(conn, job.org_id, plan, staging, parsed)
    with progress.phase("report"):
        counts = repository.counts(conn, parsed)
        errors = repository.problems(conn, parsed, skipped=False, limit=MAX_REPORTED_ERRORS)
        result: dict[str, Any] = {
            "rows": counts.rows,
            "valid": counts.valid,
            "invalid": counts.invalid,
            "skipped": counts.skipped,
            "skipped_reasons": repository.skip_reasons(conn, parsed),
            "skipped_rows": repository.problems(
                conn, parsed, skipped=True, limit=MAX_REPORTED_ERRORS
            ),
        }
    if counts.rows != job.total:
        # An UNLOGGED table is emptied by a database crash: the upload has to be sent again.
        repository.drop_table(conn, staging)
        result.update(error="The staged file was lost; upload it again", retryable=False)
        return JobOutcome("failed", result, errors, counts.invalid)
    if counts.invalid and options.mode is ImportMode.all_or_nothing:
        repository.drop_table(conn, staging)
        result.update(
            error=f"{counts.invalid} row(s) have problems; nothing was imported",
            retryable=False,
            new=0,
            already_present=0,
            customers_created=0,
            merchants_created=0,
        )
        return JobOutcome("failed", result, errors, counts.invalid)

    if options.kind is ImportKind.transactions:
        with progress.phase("customers_and_merchants"):
            customers = repository.insert_referenced_customers(conn, parsed, job.org_id)
            repository.refresh_statistics(conn, "customers", customers)
            merchants = repository.insert_referenced_merchants(conn, parsed, job.org_id)
            repository.refresh_statistics(conn, "merchants", merchants)
        with progress.phase("transactions"):
            new = _insert_in_chunks(conn, parsed, job, counts.rows, progress, options)
        already_present = counts.valid - new
    elif options.kind is ImportKind.merchants:
        with progress.phase("merchants"):
            new, already_present = repository.insert_merchants(conn, parsed, job.org_id)
        customers, merchants = 0, new
    else:
        with progress.phase("customers"):
            new, already_present = repository.insert_customers(conn, parsed, job.org_id)
        customers, merchants = new, 0
    progress.advance(counts.rows)
    repository.drop_table(conn, staging)
    if new and options.kind is ImportKind.transactions:
        # New transactions move customers between RFM segments: recompute once this commits.
        result["rfm_job_id"] = queue_segments_recompute(
            conn, job.org_id, trigger="import", import_job_id=job.id
        )
    if new and options.kind in (ImportKind.transactions, ImportKind.customers):
        # New purchases or customers change health: one recompute of today (UTC) once this
        # commits, unless one is already waiting.
        result["health_job_id"] = queue_health_recompute(
            conn, job.org_id, trigger="import", import_job_id=job.id
        )
    result.update(
        new=new,
        already_present=already_present,
        customers_created=customers,
        merchants_created=merchants,
    )
    return JobOutcome("succeeded", result, errors, counts.invalid)


def _insert_in_chunks(
    conn: Connection,
    parsed: str,
    job: JobRecord,
    rows: int,
    progress: Progress,
    options: ImportOptions,
) -> int:
    """Insert the valid rows a batch of pages at a time, so progress moves while it runs."""
    pages = repository.page_count(conn, parsed)
    if not pages:
        return 0
    step = max(1, math.ceil(pages * tuning.chunk_rows / max(rows, 1)))
    new = 0
    for first in range(0, pages, step):
        end = min(first + step, pages)
        new += repository.insert_transactions(
            conn,
            parsed,
            job.org_id,
            first,
            end if end < pages else pages + 1,
            match_content=options.format is not ImportFormat.online_retail,
        )
        progress.advance(min(rows, round(rows * end / pages)))
    return new
