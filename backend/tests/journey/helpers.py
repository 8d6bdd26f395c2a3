"""Sending events and running the `journey` job inside a test's transaction."""

from __future__ import annotations

import json
from contextlib import nullcontext

from sqlalchemy import Connection, text

from spendlens.jobs.runner import Progress, execute_job
from spendlens.journey.job import execute_rebuild
from spendlens.journey.service import JOB_KIND, stages_changed
from tests.journey.reference import Ev


def store_events(connection: Connection, org_id: int, batch: list[Ev]) -> set[int]:
    """Store a batch the way the ingest does (first sending of an event id wins; an unknown
    customer is created), then call the journey hook; returns the customers touched."""
    touched: set[int] = set()
    for ev in batch:
        customer_id = connection.execute(
            text("""
                INSERT INTO customers (org_id, external_id, name, lifecycle_stage)
                VALUES (:org_id, :external_id, :external_id, 'lead')
                ON CONFLICT (org_id, external_id) DO UPDATE SET external_id = EXCLUDED.external_id
                RETURNING id
                """),
            {"org_id": org_id, "external_id": ev.customer},
        ).scalar_one()
        new = connection.execute(
            text(
                "INSERT INTO event_ids (org_id, event_id, occurred_at) "
                "VALUES (:org_id, :event_id, :at) ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            {"org_id": org_id, "event_id": ev.event_id, "at": ev.occurred_at},
        ).first()
        if new is None:
            continue
        connection.execute(
            text(
                "INSERT INTO events (org_id, event_id, customer_id, type, occurred_at, properties) "
                "VALUES (:org_id, :event_id, :customer_id, :type, :at, CAST(:props AS jsonb))"
            ),
            {
                "org_id": org_id,
                "event_id": ev.event_id,
                "customer_id": customer_id,
                "type": ev.type,
                "at": ev.occurred_at,
                "props": json.dumps(ev.properties),
            },
        )
        touched.add(customer_id)
    stages_changed(connection, org_id, touched)
    return touched


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
