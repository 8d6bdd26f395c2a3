"""A job kind declared outside spendlens, exactly as a domain's job.py declares one: it counts the
organisation's customers. The registry tests queue it and run it in a real worker."""

from __future__ import annotations

from sqlalchemy import Connection, func, select

from spendlens.jobs.registry import job_kind
from spendlens.jobs.runner import JobOutcome, JobRecord, Progress
from spendlens.models import Customer

KIND = "count_customers"
TASK = "tests.count_customers"


@job_kind(KIND, task=TASK)
def count_customers(conn: Connection, job: JobRecord, progress: Progress) -> JobOutcome:
    """Count the organisation's customers (with the label it was given, to show params arrive)."""
    with progress.phase("count"):
        customers = conn.execute(
            select(func.count()).select_from(Customer).where(Customer.org_id == job.org_id)
        ).scalar_one()
    progress.set_total(customers)
    progress.advance(customers)
    return JobOutcome("succeeded", {"customers": customers, "label": job.params["label"]})
