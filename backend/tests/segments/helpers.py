"""Helpers for RFM tests: store a snapshot or run a queued `rfm` job in the test's own
transaction (so everything is rolled back afterwards), and read stored snapshots back plainly."""

from __future__ import annotations

from contextlib import nullcontext
from datetime import date

from sqlalchemy import Connection, text

from spendlens.jobs.runner import Progress, execute_job
from spendlens.segments.job import execute_recompute
from spendlens.segments.service import recompute
from tests.segments.reference import Rfm

SEGMENTS = "/api/v1/segments"
CUSTOMER_RFM = "/api/v1/customers/rfm"


def store(connection: Connection, org_id: int, as_of: date) -> dict:
    """Compute and store the snapshot of `as_of`, as the job would."""
    with connection.begin_nested():
        return recompute(connection, org_id, as_of)


def run_rfm_job_here(connection: Connection, org_id: int, job_id: int):
    progress = Progress(lambda: nullcontext(connection), org_id, job_id)
    with connection.begin_nested():
        return execute_job(connection, progress, org_id, job_id, execute_recompute)


def stored(connection: Connection, org_id: int, as_of: date) -> dict[int, Rfm]:
    rows = connection.execute(
        text(
            "SELECT customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, "
            "segment FROM rfm_scores WHERE org_id = :org AND as_of = :as_of"
        ),
        {"org": org_id, "as_of": as_of},
    ).all()
    return {row[0]: Rfm(*row[1:]) for row in rows}


def from_api(item: dict) -> Rfm:
    from decimal import Decimal

    return Rfm(
        item["recency_days"],
        item["frequency"],
        Decimal(item["monetary"]),
        item["r_score"],
        item["f_score"],
        item["m_score"],
        item["segment"],
    )


def fetch_all(client, headers, url: str, params: dict | None = None) -> list[dict]:
    """Every item of a paginated listing."""
    items, skip = [], 0
    while True:
        response = client.get(
            url, params={**(params or {}), "skip": skip, "limit": 100}, headers=headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        skip += 100
        if skip >= body["total"]:
            assert len(items) == body["total"]
            return items
