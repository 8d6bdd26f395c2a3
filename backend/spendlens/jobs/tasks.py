"""Housekeeping tasks every worker runs: jobs of workers that died are queued again."""

from __future__ import annotations

import logging

from procrastinate import JobContext

from spendlens.jobs.queue import queue

logger = logging.getLogger("spendlens.jobs")

# A worker that has not sent a heartbeat for this long is dead (it beats every 10 s).
STALLED_WORKER_SECONDS = 60


@queue.periodic(cron="* * * * *")
@queue.task(name="jobs.retry_stalled", queueing_lock="jobs.retry_stalled", pass_context=True)
async def retry_stalled_jobs(context: JobContext, timestamp: int) -> int:
    """procrastinate's stalled-job recipe: requeue the jobs of workers that stopped beating.

    The rerun is safe: the dead worker's transaction never committed, and a job that did finish
    meanwhile is recognised as such by its run (see spendlens.jobs.runner).
    """
    stalled = await context.app.job_manager.get_stalled_jobs(
        seconds_since_heartbeat=STALLED_WORKER_SECONDS
    )
    count = 0
    for job in stalled:
        if job.task_name == "jobs.retry_stalled":
            continue
        logger.warning("requeueing job %s (%s) of a dead worker", job.id, job.task_name)
        await context.app.job_manager.retry_job(job)
        count += 1
    return count
