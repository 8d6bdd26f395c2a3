"""The procrastinate App shared by every process: the API defers jobs on its own request
connection (so a job and the rows it needs commit together), the worker runs them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from procrastinate import App, manager, sql, tasks
from procrastinate.contrib.sqlalchemy import SQLAlchemyPsycopg2Connector
from sqlalchemy import Connection

# Deferring only ever happens on an explicit SQLAlchemy connection (see `defer`), so this
# connector never opens a pool of its own. The worker swaps in an async psycopg connector.
# Tasks are declared by the modules `spendlens.jobs.registry.import_worker_modules` imports.
queue = App(connector=SQLAlchemyPsycopg2Connector())
# Jobs are also deferred from inside a worker's job (an import queues the RFM recompute), where
# `queue` has the worker's psycopg 3 connector: deferring on a SQLAlchemy connection always goes
# through a SQLAlchemy connector of its own.
_deferring = manager.JobManager(SQLAlchemyPsycopg2Connector())


def defer(
    connection: Connection, task_name: str, *, lock: str | None = None, **task_kwargs: Any
) -> int:
    """Queue `task_name` inside `connection`'s transaction; returns the queue's job id.

    The job becomes visible to workers only when that transaction commits, so a worker never
    picks up a job whose rows are not there yet, and a failed request leaves no job behind.
    Jobs with the same `lock` run one after the other.
    """
    deferrer = tasks.configure_task(
        name=task_name, job_manager=_deferring, connection=connection, lock=lock
    )
    return deferrer.defer(**task_kwargs)


def queue_status(connection: Connection, queue_job_id: int) -> str | None:
    """The queue's status of a job (todo, doing, succeeded, failed …), None once deleted."""
    row = queue.connector.execute_query_one_with_connection(
        connection, query=sql.queries["get_job_status"], job_id=queue_job_id
    )
    return str(row["status"]) if row else None


def requeue(connection: Connection, queue_job_id: int) -> None:
    """procrastinate's retry of a job that failed or whose worker died: back to `todo`."""
    queue.connector.execute_query_one_with_connection(
        connection,
        query=sql.queries["retry_job"],
        job_id=queue_job_id,
        retry_at=datetime.now(UTC),
        new_priority=None,
        new_queue_name=None,
        new_lock=None,
    )


def libpq_dsn(sqlalchemy_url: str) -> str:
    """The DSN without SQLAlchemy's driver suffix, as psycopg 3 expects it."""
    scheme, sep, rest = sqlalchemy_url.partition("://")
    return f"{scheme.split('+')[0]}{sep}{rest}"
