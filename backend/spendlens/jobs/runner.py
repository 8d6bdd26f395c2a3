"""Running one tracked job: its data writes are one transaction, committed only at the end, while
its progress goes through short connections of its own so that readers see it as it happens."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Connection, Engine, func, select, text, update

from spendlens.db import get_engine, lift_request_timeouts
from spendlens.models import Job
from spendlens.tenancy import set_org

logger = logging.getLogger("spendlens.jobs")

jobs_table = Job.__table__

# Advisory-lock namespace for "a worker is running job N"; the second key is the job id.
_RUN_LOCK_CLASS = 0x5E4A0B
# States in which a job may (still) be run; anything else means someone already finished it.
RUNNABLE_STATES = ("queued", "running")
# At most this many problems are stored per job; error_count stays exact.
MAX_REPORTED_ERRORS = 1000


@dataclass
class Tuning:
    """Knobs for tests and benchmarks: rows per write batch, and a pause after each batch that
    lets a test kill a worker while a job is half done."""

    chunk_rows: int = 100_000
    step_delay: float = 0.0


tuning = Tuning()


@dataclass(frozen=True)
class JobRecord:
    org_id: int
    id: int
    kind: str
    params: dict[str, Any]
    total: int | None
    attempts: int


@dataclass
class JobOutcome:
    state: Literal["succeeded", "failed"]
    result: dict[str, Any]
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0


ProgressCallback = Callable[[int, int | None], None]
Connect = Callable[[], AbstractContextManager[Connection]]


def run_lock_sql(fn: str) -> str:
    return f"SELECT {fn}({_RUN_LOCK_CLASS}, CAST(:job_id % 2147483647 AS integer))"


class Progress:
    """Progress of a running job, written on a short connection of its own (committed at once).

    `connect` opens that connection inside a transaction (normally `engine.begin`).
    """

    def __init__(
        self,
        connect: Connect,
        org_id: int,
        job_id: int,
        on_change: ProgressCallback | None = None,
    ) -> None:
        self.connect = connect
        self.org_id = org_id
        self.job_id = job_id
        self.on_change = on_change
        self.processed = 0
        self.total: int | None = None
        # Seconds spent in each phase of the run (see `phase`); they end up in the result.
        self.seconds: dict[str, float] = {}

    def _update(self, **values: Any) -> None:
        with self.connect() as conn:
            set_org(conn, self.org_id)
            # Never wait long behind the job's own transaction: progress is best effort.
            conn.execute(text("SET LOCAL lock_timeout = '5s'"))
            conn.execute(
                update(jobs_table)
                .where(jobs_table.c.org_id == self.org_id, jobs_table.c.id == self.job_id)
                .values(**values)
            )

    def start(self) -> None:
        self.seconds = {}
        self._update(
            state="running",
            started_at=func.clock_timestamp(),
            finished_at=None,
            attempts=jobs_table.c.attempts + 1,
            processed=0,
            errors=[],
            error_count=0,
            result=None,
        )

    def _report(self, **values: Any) -> None:
        try:
            self._update(**values)
        except Exception:  # progress is best effort: never fail the job's work over it
            logger.warning("could not record progress of job %s", self.job_id, exc_info=True)
        self._notify()

    def set_total(self, total: int) -> None:
        self.total = total
        self._report(total=total)

    def advance(self, processed: int) -> None:
        """Record that `processed` items are done; sleeps `tuning.step_delay` afterwards."""
        self.processed = processed
        self._report(processed=processed)
        if tuning.step_delay:
            time.sleep(tuning.step_delay)

    @contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Time the block as phase `name` (added up when entered again): the job's result gets
        `{"seconds": {name: seconds, ...}}` unless the work sets `seconds` itself."""
        started = time.perf_counter()
        try:
            yield
        finally:
            spent = self.seconds.get(name, 0.0) + time.perf_counter() - started
            self.seconds[name] = round(spent, 3)

    def fail(self, message: str) -> None:
        self._update(
            state="failed",
            finished_at=func.clock_timestamp(),
            result={"error": message, "retryable": True},
        )

    def _notify(self) -> None:
        if self.on_change is not None:
            self.on_change(self.processed, self.total)


def _read_job(conn: Connection, org_id: int, job_id: int) -> tuple[JobRecord, str] | None:
    row = conn.execute(
        select(
            jobs_table.c.org_id,
            jobs_table.c.id,
            jobs_table.c.kind,
            jobs_table.c.params,
            jobs_table.c.total,
            jobs_table.c.attempts,
            jobs_table.c.state,
        ).where(jobs_table.c.org_id == org_id, jobs_table.c.id == job_id)
    ).first()
    if row is None:
        return None
    record = JobRecord(row.org_id, row.id, row.kind, row.params, row.total, row.attempts)
    return record, row.state


def _finish(conn: Connection, job: JobRecord, outcome: JobOutcome, processed: int) -> None:
    conn.execute(
        update(jobs_table)
        .where(jobs_table.c.org_id == job.org_id, jobs_table.c.id == job.id)
        .values(
            state=outcome.state,
            result=outcome.result,
            errors=outcome.errors[:MAX_REPORTED_ERRORS],
            error_count=outcome.error_count,
            processed=processed,
            finished_at=func.clock_timestamp(),
        )
    )


JobWork = Callable[[Connection, JobRecord, Progress], JobOutcome]


def execute_job(
    conn: Connection, progress: Progress, org_id: int, job_id: int, work: JobWork
) -> JobOutcome | None:
    """One run of a job inside `conn`'s open transaction, which the caller commits.

    Returns None when there is nothing to do: the job is gone or already finished. A second run
    of the same job (a retried job whose first worker is still finishing) waits for the first on
    an advisory lock, then finds the job finished.
    """
    set_org(conn, org_id)  # the job's organisation: row-level security holds its work to it
    if conn.dialect.server_version_info >= (14,):
        # A backend whose worker died notices at once and rolls back, releasing the run lock
        # for the retry instead of finishing a doomed statement.
        conn.execute(text("SET LOCAL client_connection_check_interval = '1s'"))
    conn.execute(text(run_lock_sql("pg_advisory_xact_lock")), {"job_id": job_id})
    found = _read_job(conn, org_id, job_id)
    if found is None or found[1] not in RUNNABLE_STATES:
        logger.info("job %s needs no run (state %s)", job_id, found and found[1])
        return None
    job = found[0]
    progress.start()
    outcome = work(conn, job, progress)
    if progress.seconds:
        outcome.result.setdefault("seconds", dict(progress.seconds))
    _finish(conn, job, outcome, progress.processed)
    return outcome


def run_job(
    org_id: int,
    job_id: int,
    work: JobWork,
    *,
    engine: Engine | None = None,
    on_progress: ProgressCallback | None = None,
) -> str | None:
    """Run `work` for one job: its writes commit together at the end, or not at all.

    Returns the final state (None: nothing to do). A worker killed mid-job never commits, so the
    organisation's data stays exactly as it was, and the job stays `running` until retried.
    """
    engine = engine or get_engine()
    progress = Progress(engine.begin, org_id, job_id, on_progress)
    with engine.connect() as conn:
        try:
            with conn.begin():
                lift_request_timeouts(conn)  # the API's per-statement limits are not a job's
                outcome = execute_job(conn, progress, org_id, job_id, work)
        except Exception as exc:
            logger.exception("job %s failed", job_id)
            try:
                progress.fail(f"{type(exc).__name__}: {exc}"[:500])
            except Exception:  # the database may be gone too; the queue still records it
                logger.exception("could not record the failure of job %s", job_id)
            raise
    if outcome is None:
        return None
    summary = {k: v for k, v in outcome.result.items() if isinstance(v, (int, str))}
    logger.info("job %s %s", job_id, outcome.state, extra={"job_result": summary})
    return outcome.state
