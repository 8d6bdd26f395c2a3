"""After an import that adds transactions, an RFM recompute is queued in the import's own
transaction (for today in the organisation's zone); dry runs, customers files and imports that add
nothing queue none."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from spendlens.models import Job, RfmSnapshot
from tests.builders import create_org, create_user, headers_for
from tests.imports.helpers import run_job_here, upload
from tests.segments.helpers import run_rfm_job_here

RECORDS = [
    {
        "occurred_at": "2026-03-01T10:00:00Z",
        "customer_external_id": "J1",
        "customer_name": "Jo",
        "amount": "12.50",
        "category": "Books",
        "external_id": "J-1",
    },
    {
        "occurred_at": "2026-03-05T10:00:00Z",
        "customer_external_id": "J2",
        "amount": "40.00",
        "category": "Books",
        "external_id": "J-2",
    },
]


@pytest.fixture
def shop(session):
    org = create_org(session, base_currency="GBP", timezone="Australia/Sydney")
    return org, headers_for(create_user(session, org, role="analyst"))


def rfm_jobs(session, org_id) -> list[Job]:
    query = select(Job).where(Job.org_id == org_id, Job.kind == "rfm").order_by(Job.id)
    return list(session.execute(query).scalars())


def import_json(client, connection, org, headers, records, **fields):
    response = upload(
        client, headers, json.dumps(records), filename="t.json", format="json", **fields
    )
    assert response.status_code in (200, 202), response.text
    if response.status_code == 200:
        return response.json()
    run_job_here(connection, org.id, response.json()["id"])
    return client.get(f"/api/v1/jobs/{response.json()['id']}", headers=headers).json()


def test_an_import_that_adds_transactions_queues_a_recompute(client, session, connection, shop):
    org, headers = shop
    job = import_json(client, connection, org, headers, RECORDS)
    assert job["state"] == "succeeded" and job["result"]["new"] == 2
    (rfm,) = rfm_jobs(session, org.id)
    today = datetime.now(ZoneInfo("Australia/Sydney")).date().isoformat()
    assert job["result"]["rfm_job_id"] == rfm.id
    assert (rfm.state, rfm.params) == (
        "queued",
        {"as_of": today, "trigger": "import", "import_job_id": job["id"]},
    )
    assert rfm.queue_job_id is not None
    run_rfm_job_here(connection, org.id, rfm.id)
    session.expire_all()
    snapshot = session.get(RfmSnapshot, (org.id, datetime.fromisoformat(today).date()))
    assert snapshot.customers == 2 and snapshot.job_id == rfm.id


def test_dry_runs_customers_files_and_repeated_imports_queue_nothing(
    client, session, connection, shop
):
    org, headers = shop
    preview = import_json(client, connection, org, headers, RECORDS, dry_run=True)
    assert preview["summary"]["new"] == 2
    assert rfm_jobs(session, org.id) == []
    customers = upload(
        client,
        headers,
        "external_id,name\nC1,Cy\n",
        filename="c.csv",
        kind="customers",
    )
    run_job_here(connection, org.id, customers.json()["id"])
    assert rfm_jobs(session, org.id) == []
    import_json(client, connection, org, headers, RECORDS)
    again = import_json(client, connection, org, headers, RECORDS)
    assert again["state"] == "succeeded" and again["result"]["new"] == 0
    assert "rfm_job_id" not in again["result"]
    count = select(func.count()).select_from(Job).where(Job.org_id == org.id, Job.kind == "rfm")
    assert session.execute(count).scalar_one() == 1
