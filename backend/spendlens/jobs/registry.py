"""Declaring a kind of tracked job once, and queueing its jobs.

A domain declares a kind in its `job.py` with `@job_kind(name, task=...)` over the job's work; the
declaration creates the procrastinate task a worker runs and records which task runs the kind.
Services queue a job with `enqueue`, on the connection of the request (or of the worker's job) that
asks for it, so the job's row and its queue entry commit with the caller's writes or not at all.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from procrastinate.tasks import Task
from sqlalchemy import Connection

from spendlens.jobs import repository
from spendlens.jobs.queue import defer, queue
from spendlens.jobs.runner import JobWork, run_job

# What a worker imports from every package `spendlens.<domain>`: `job` declares the domain's job
# kinds, `tasks` its periodic housekeeping (procrastinate tasks without a row in `jobs`).
JOB_MODULE = "job"
TASKS_MODULE = "tasks"
# Packages that are not domains: models/job.py maps the `jobs` table and declares nothing.
NOT_DOMAINS = frozenset({"spendlens.models"})


class JobKindAlreadyDeclared(ValueError):
    """Two declarations of one job kind (or of one task name): the second would hide the first."""


class UnknownJobKind(LookupError):
    """No module declares this job kind."""


@dataclass(frozen=True)
class JobKind:
    """A kind of tracked job: `name` is stored in `jobs.kind` (and shown in the API), `task_name`
    is the procrastinate task that runs it (stored in the queue: never rename a deployed one),
    `work` does the job inside the runner's transaction (see spendlens.jobs.runner)."""

    name: str
    task_name: str
    work: JobWork
    task: Task

    def lock(self, org_id: int) -> str:
        """The queue lock: jobs of one kind and organisation run one at a time."""
        return f"{self.name}:org:{org_id}"


_kinds: dict[str, JobKind] = {}


def job_kind(name: str, *, task: str) -> Callable[[JobWork], JobWork]:
    """Declare the decorated function as the work of job kind `name`, run by the procrastinate
    task `task`; the function is returned unchanged (tests can run it in their transaction)."""

    def declare(work: JobWork) -> JobWork:
        if name in _kinds:
            raise JobKindAlreadyDeclared(f"The job kind {name!r} is already declared")
        if task in queue.tasks:
            raise JobKindAlreadyDeclared(f"A task named {task!r} is already registered")

        def run(org_id: int, job_id: int) -> str | None:
            return run_job(org_id, job_id, work)

        run.__doc__ = f"Run one {name!r} job: its writes commit together, or not at all."
        _kinds[name] = JobKind(name, task, work, queue.task(name=task)(run))
        return work

    return declare


def declared_kinds() -> dict[str, JobKind]:
    """Every kind declared so far in this process, by name."""
    return dict(_kinds)


def find_kind(name: str) -> JobKind:
    """The declaration of `name`; the domains' job modules are imported on the first miss, since
    a process (the API) may queue a kind whose module nothing has imported yet."""
    if name not in _kinds:
        import_worker_modules(include_tasks=False)
    try:
        return _kinds[name]
    except KeyError:
        known = ", ".join(sorted(_kinds)) or "none"
        raise UnknownJobKind(
            f"No job kind {name!r} is declared (declared: {known}); declare it with "
            "@job_kind in a module the worker imports"
        ) from None


def worker_modules(*, include_tasks: bool = True) -> list[str]:
    """Every `spendlens.<domain>.job` module (and `spendlens.<domain>.tasks` with
    `include_tasks`) that exists."""
    import spendlens

    leaves = (JOB_MODULE, TASKS_MODULE) if include_tasks else (JOB_MODULE,)
    found = []
    for package in pkgutil.iter_modules(spendlens.__path__, prefix="spendlens."):
        if not package.ispkg or package.name in NOT_DOMAINS:
            continue
        for leaf in leaves:
            name = f"{package.name}.{leaf}"
            if importlib.util.find_spec(name) is not None:
                found.append(name)
    return found


def import_worker_modules(extra: Iterable[str] = (), *, include_tasks: bool = True) -> list[str]:
    """Import the domains' job (and tasks) modules, then `extra` ones (dotted module names, e.g.
    a job kind declared outside spendlens); returns what was imported."""
    names = worker_modules(include_tasks=include_tasks) + list(extra)
    for name in names:
        importlib.import_module(name)
    return names


def defer_run(connection: Connection, kind: str, org_id: int, job_id: int) -> int:
    """Queue a run of the existing job `job_id` inside `connection`'s transaction; returns the
    queue's job id (store it in `jobs.queue_job_id`)."""
    declared = find_kind(kind)
    return defer(
        connection, declared.task_name, lock=declared.lock(org_id), org_id=org_id, job_id=job_id
    )


def record_job(
    connection: Connection,
    org_id: int,
    kind: str,
    params: dict[str, Any],
    created_by: int | None = None,
    total: int | None = None,
) -> int:
    """Record a job of `kind` without queueing it (for a job run in this process, like
    `spendlens import` does); returns its id."""
    find_kind(kind)  # an unknown kind fails before anything is written
    return repository.insert_job(
        connection, org_id, kind=kind, params=params, created_by=created_by, total=total
    )


def enqueue(
    connection: Connection,
    org_id: int,
    kind: str,
    params: dict[str, Any],
    created_by: int | None = None,
    total: int | None = None,
) -> int:
    """Record a job of `kind` and queue it, inside `connection`'s transaction; returns its id.

    Workers see the job once that transaction commits, so the rows it needs (written by the
    caller in the same transaction) are there when it runs, and a failed caller leaves no job.
    """
    job_id = record_job(connection, org_id, kind, params, created_by, total)
    queue_job_id = defer_run(connection, kind, org_id, job_id)
    repository.set_queue_job_id(connection, org_id, job_id, queue_job_id)
    return job_id
