"""`spendlens worker`: a procrastinate worker for Spendlens's jobs. Run as many as you like: each
job is fetched by exactly one worker (procrastinate locks it with FOR UPDATE SKIP LOCKED)."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from procrastinate import PsycopgConnector

from spendlens.config import get_settings
from spendlens.jobs.queue import libpq_dsn, queue
from spendlens.jobs.registry import declared_kinds, import_worker_modules
from spendlens.ops.logging import configure_logging

logger = logging.getLogger("spendlens.jobs")


def run_worker(
    *,
    concurrency: int = 1,
    name: str | None = None,
    heartbeat_seconds: float = 10.0,
    stalled_worker_seconds: float = 30.0,
    extra_modules: Iterable[str] = (),
) -> None:
    """Run jobs until SIGINT/SIGTERM; a running job is finished before the worker stops.

    The worker runs the tasks of every `spendlens.<domain>.job` and `spendlens.<domain>.tasks`
    module, and of `extra_modules` (dotted names of modules declaring more job kinds or tasks).
    """
    settings = get_settings()
    configure_logging(settings.log_level)
    # procrastinate's own lines (job started, finished, retried) in the same JSON log.
    procrastinate_log = logging.getLogger("procrastinate")
    procrastinate_log.handlers[:] = logging.getLogger("spendlens").handlers
    procrastinate_log.setLevel(settings.log_level.upper())
    procrastinate_log.propagate = False
    modules = import_worker_modules(extra_modules)
    logger.info(
        "worker knows job kinds %s from %s",
        ", ".join(sorted(declared_kinds())),
        ", ".join(modules),
    )
    connector = PsycopgConnector(
        conninfo=libpq_dsn(settings.app_sqlalchemy_url), min_size=1, max_size=concurrency + 3
    )
    with queue.replace_connector(connector):
        queue.run_worker(
            concurrency=concurrency,
            name=name,
            # Spendlens's `jobs` table keeps the record of every job; the queue only holds
            # what is still to do (and what failed, for inspection).
            delete_jobs="successful",
            update_heartbeat_interval=heartbeat_seconds,
            stalled_worker_timeout=stalled_worker_seconds,
        )
