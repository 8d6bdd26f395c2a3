"""`spendlens import FILE`: the API's import from the command line, with a progress bar.

The file is checked and staged exactly as an upload is, then the job runs in this process (no
worker needed); it is recorded in `jobs` like any other import.
"""

from __future__ import annotations

import io
import json
import sys
import time
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from sqlalchemy import select

from spendlens.db import get_engine, session_factory
from spendlens.errors import AppError
from spendlens.imports.schemas import (
    ColumnMapping,
    FileEncoding,
    ImportFormat,
    ImportKind,
    ImportMode,
)
from spendlens.imports.job import execute_import
from spendlens.imports.service import ImportOptions, check_upload, create_import_job, dry_run
from spendlens.jobs.runner import run_job
from spendlens.models import Job, Organization
from spendlens.tenancy import bind_org


class ProgressBar:
    """A one-line text progress bar, redrawn at most ten times a second."""

    def __init__(self, label: str, unit: str, out: TextIO) -> None:
        self.label, self.unit, self.out = label, unit, out
        self.last = 0.0
        self.shown = False
        self.state: tuple[int, int | None] | None = None

    def update(self, done: int, total: int | None, *, force: bool = False) -> None:
        self.state = (done, total)
        now = time.monotonic()
        if not force and now - self.last < 0.1:
            return
        self.last = now
        if total:
            share = min(1.0, done / total)
            bar = "#" * int(share * 30)
            line = f"{self.label:<10} [{bar:<30}] {share:4.0%} {done:,}/{total:,} {self.unit}"
        else:
            line = f"{self.label:<10} {done:,} {self.unit}"
        self.out.write("\r" + line)
        self.out.flush()
        self.shown = True

    def close(self) -> None:
        if self.state is not None:
            self.update(*self.state, force=True)  # the final figures, whatever the throttle
        if self.shown:
            self.out.write("\n")
            self.out.flush()


class CountingReader(io.RawIOBase):
    """A file that reports how many bytes have been read from it."""

    def __init__(self, raw: BinaryIO, bar: ProgressBar, size: int) -> None:
        self.raw, self.bar, self.size = raw, bar, size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self.raw.read(size)
        self.bar.update(self.raw.tell(), self.size, force=not chunk)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.raw.seek(offset, whence)

    def tell(self) -> int:
        return self.raw.tell()


def _mapping(value: str | None) -> ColumnMapping | None:
    if not value:
        return None
    if value.startswith("@"):
        value = Path(value[1:]).read_text(encoding="utf-8")
    return ColumnMapping.model_validate(json.loads(value))


def _describe(error: AppError) -> str:
    detail = error.detail
    if isinstance(detail, list):
        return "; ".join(str(item.get("msg", item)) for item in detail)
    return str(detail)


def _print_problems(
    title: str, problems: list[dict[str, Any]], out: TextIO, limit: int = 10
) -> None:
    if not problems:
        return
    out.write(f"{title}:\n")
    for problem in problems[:limit]:
        value = "" if problem.get("value") is None else f" {problem['value']!r}"
        out.write(f"  row {problem['row']}, {problem['column']}{value}: {problem['reason']}\n")
    if len(problems) > limit:
        out.write("  … and more (see the job's report)\n")


def import_file(
    path: Path,
    *,
    fmt: str,
    kind: str = "transactions",
    org_slug: str | None = None,
    mapping: str | None = None,
    encoding: str = "utf-8",
    dry: bool = False,
    skip_bad_rows: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """0 when the import (or dry run) succeeds, 1 when the file has problems, 2 on bad usage."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        options = ImportOptions(
            kind=ImportKind(kind),
            format=ImportFormat(fmt),
            mode=ImportMode.skip_bad_rows if skip_bad_rows else ImportMode.all_or_nothing,
            dry_run=dry,
            mapping=_mapping(mapping),
            encoding=FileEncoding(encoding),
            filename=path.name,
        )
    except (ValueError, OSError) as exc:
        err.write(f"error: {exc}\n")
        return 2
    engine = get_engine()
    with session_factory(engine)() as session, open(path, "rb") as raw:
        orgs = session.execute(select(Organization).order_by(Organization.id)).scalars().all()
        matches = [o for o in orgs if org_slug is None or o.slug == org_slug]
        if len(matches) != 1:
            slugs = ", ".join(o.slug for o in orgs) or "none"
            err.write(f"error: name the organisation with --org (organisations: {slugs})\n")
            return 2
        org = matches[0]
        bind_org(session, org.id)  # row-level security: everything below is this org's
        upload_bar = ProgressBar("uploading", "bytes", err)
        try:
            checked = check_upload(raw, options)
            checked.file.stream = CountingReader(raw, upload_bar, checked.file.size)
            if dry:
                report = dry_run(session.connection(), org.id, checked)
                upload_bar.close()
                session.rollback()
                summary = report.summary
                out.write(json.dumps(summary.model_dump(), indent=2) + "\n")
                _print_problems("problems", [e.model_dump() for e in report.errors], out)
                return 0 if report.would_succeed else 1
            job = create_import_job(session, org, None, checked, queue=False)
            session.commit()
        except AppError as exc:
            upload_bar.close()
            session.rollback()
            err.write(f"error: {_describe(exc)}\n")
            return 2
        upload_bar.close()
        job_id = job.id
    bar = ProgressBar("importing", "rows", err)
    state = run_job(
        org.id, job_id, execute_import, engine=engine, on_progress=lambda d, t: bar.update(d, t)
    )
    bar.close()
    with session_factory(engine)() as session:
        bind_org(session, org.id)
        job = session.get(Job, (org.id, job_id))
        result = job.result or {}
        out.write(f"job {job_id}: {state}\n")
        shown = {k: v for k, v in result.items() if k not in ("skipped_rows",)}
        out.write(json.dumps(shown, indent=2, default=str) + "\n")
        _print_problems("problems", job.errors, out)
    return 0 if state == "succeeded" else 1
