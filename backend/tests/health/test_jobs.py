"""The `health` job is queued after imports, after event batches (one waiting job per
organisation, however many batches arrive) and nightly for every organisation; it stores a
computation the API then answers from."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from spendlens.health.service import queue_nightly_recomputes
from spendlens.health.tasks import schedule_nightly_recomputes  # noqa: F401 (registered task)
from spendlens.jobs.queue import queue
from spendlens.kit.dates import today_utc
from spendlens.models import Job
from tests.builders import create_org, create_user, headers_for
from tests.conftest import as_app_role
from tests.health.helpers import HEALTH, run_health_job_here
from tests.imports.helpers import run_job_here, upload

RECORDS = [
    {
        "occurred_at": (datetime.now(UTC) - timedelta(days=3)).isoformat(),
        "customer_external_id": "H1",
        "customer_name": "Hal",
        "amount": "12.50",
        "category": "Books",
        "external_id": "H-1",
    },
    {
        "occurred_at": (datetime.now(UTC) - timedelta(days=40)).isoformat(),
        "customer_external_id": "H2",
        "amount": "40.00",
        "category": "Books",
        "external_id": "H-2",
    },
]


def health_jobs(session, org_id) -> list[Job]:
    session.expire_all()
    query = select(Job).where(Job.org_id == org_id, Job.kind == "health").order_by(Job.id)
    return list(session.execute(query).scalars())


def test_an_import_queues_a_recompute_that_scores_the_new_customers(client, session, connection):
    org = create_org(session)
    headers = headers_for(create_user(session, org, role="analyst"))
    response = upload(client, headers, json.dumps(RECORDS), filename="t.json", format="json")
    assert response.status_code == 202, response.text
    run_job_here(connection, org.id, response.json()["id"])
    imported = client.get(f"/api/v1/jobs/{response.json()['id']}", headers=headers).json()
    assert imported["state"] == "succeeded" and imported["result"]["new"] == 2
    (job,) = health_jobs(session, org.id)
    assert imported["result"]["health_job_id"] == job.id
    assert job.state == "queued" and job.queue_job_id is not None
    assert job.params == {
        "as_of": today_utc().isoformat(),
        "trigger": "import",
        "import_job_id": imported["id"],
    }
    run_health_job_here(connection, org.id, job.id)
    overview = client.get(HEALTH, headers=headers).json()
    assert overview["customers"] == 2 and overview["as_of"] == today_utc().isoformat()
    listed = client.get("/api/v1/customers", params={"sort": "-health_score"}, headers=headers)
    names = [(i["name"], i["health_band"]) for i in listed.json()["items"]]
    # Hal bought 3 days ago, H2 40 days ago: Hal is healthier (no events: purchases only).
    assert [name for name, _ in names] == ["Hal", "Customer H2"] and all(band for _, band in names)
    # The same file again adds nothing and queues nothing more.
    again = upload(client, headers, json.dumps(RECORDS), filename="t.json", format="json")
    run_job_here(connection, org.id, again.json()["id"])
    assert len(health_jobs(session, org.id)) == 1


def _batch(customer: str, n: int) -> dict:
    now = datetime.now(UTC)
    return {
        "events": [
            {
                "event_id": str(uuid.uuid4()),
                "type": "login",
                "occurred_at": (now - timedelta(minutes=i + 1)).isoformat(),
                "customer": customer,
            }
            for i in range(n)
        ]
    }


def test_event_batches_queue_one_recompute_at_a_time(client, session, connection):
    org = create_org(session)
    headers = headers_for(create_user(session, org, role="analyst"))
    for _ in range(3):
        response = client.post("/api/v1/events", json=_batch("E1", 2), headers=headers)
        assert response.status_code == 200 and response.json()["stored"] == 2, response.text
    (job,) = health_jobs(session, org.id)
    assert job.params == {"as_of": today_utc().isoformat(), "trigger": "events"}
    run_health_job_here(connection, org.id, job.id)
    assert health_jobs(session, org.id)[0].state == "succeeded"
    # Once that job has started, the next batch gets a job of its own (the first may not have
    # seen it), and again only one.
    client.post("/api/v1/events", json=_batch("E1", 1), headers=headers)
    client.post("/api/v1/events", json=_batch("E2", 1), headers=headers)
    jobs = health_jobs(session, org.id)
    assert [j.state for j in jobs] == ["succeeded", "queued"]
    run_health_job_here(connection, org.id, jobs[1].id)
    body = client.get(HEALTH, headers=headers).json()
    # E1 and E2 have logins only: scored on the event components.
    assert body["customers"] == 2


def test_the_nightly_schedule_queues_every_organisation(session, connection, app_role):
    """As the application role (row-level security), one organisation at a time."""
    org = create_org(session)
    session.commit()
    day = today_utc() - timedelta(days=1)
    with as_app_role(connection, app_role):
        queued = queue_nightly_recomputes(connection, day)
    count = connection.execute(text("SELECT count(*) FROM organizations")).scalar_one()
    per_org = connection.execute(
        text("SELECT count(DISTINCT org_id) FROM jobs WHERE kind = 'health'")
    ).scalar_one()
    assert queued == count == per_org
    (job,) = health_jobs(session, org.id)
    assert job.params == {"as_of": day.isoformat(), "trigger": "schedule"}
    assert "health.schedule_nightly" in queue.tasks
    assert any(
        p.task.name == "health.schedule_nightly" and p.cron == "20 0 * * *"
        for p in queue.periodic_registry.periodic_tasks.values()
    )
