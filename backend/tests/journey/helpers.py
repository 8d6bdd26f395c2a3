"""Sending events and running the `journey` job inside a test's transaction."""

from __future__ import annotations

from contextlib import nullcontext

from sqlalchemy import Connection, text

from spendlens.jobs.runner import Progress, execute_job
from spendlens.journey.job import execute_rebuild
from spendlens.journey.service import JOB_KIND
from tests.journey.reference import Ev


def post_events(client, headers: dict[str, str], batch: list[Ev]) -> list[dict]:
    """POST a batch to the real ingest endpoint; returns its per-event results."""
    body = {
        "events": [
            {
                "event_id": ev.event_id,
                "type": ev.type,
                "occurred_at": ev.occurred_at.isoformat(),
                "customer": ev.customer,
                "properties": ev.properties,
            }
            for ev in batch
        ]
    }
    response = client.post("/api/v1/events", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["results"]


def run_journey_jobs(connection: Connection, org_id: int) -> list[dict]:
    """Run every queued `journey` job of the organisation here, as a worker would."""
    job_ids = connection.execute(
        text(
            "SELECT id FROM jobs WHERE org_id = :org_id AND kind = :kind AND state = 'queued' "
            "ORDER BY id"
        ),
        {"org_id": org_id, "kind": JOB_KIND},
    ).scalars()
    results = []
    for job_id in list(job_ids):
        progress = Progress(lambda: nullcontext(connection), org_id, job_id)
        with connection.begin_nested():
            outcome = execute_job(connection, progress, org_id, job_id, execute_rebuild)
        if outcome is not None:
            results.append(outcome.result)
    return results
