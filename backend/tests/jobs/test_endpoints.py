"""Jobs API: any role reads its organisation's jobs, another organisation's job is 404, and only a
failed job or one whose worker died can be retried (by analysts)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from spendlens.jobs.runner import run_lock_sql
from spendlens.models import Job

from tests.builders import create_org, create_user, headers_for
from tests.imports.helpers import ONLINE_RETAIL_SAMPLE, run_job_here, upload

JOBS = "/api/v1/jobs"


def make_job(session, org, **overrides) -> Job:
    values = dict(org_id=org.id, kind="import", state="queued", params={"format": "json"})
    values.update(processed=0, errors=[], error_count=0, attempts=0)
    values.update(overrides)
    job = Job(**values)
    session.add(job)
    session.flush()
    return job


def queue_status(connection, queue_job_id):
    return connection.execute(
        text("SELECT status::text FROM procrastinate_jobs WHERE id = :id"), {"id": queue_job_id}
    ).scalar_one_or_none()


@pytest.fixture
def team(session):
    org = create_org(session)
    return (
        org,
        headers_for(create_user(session, org, role="analyst")),
        headers_for(create_user(session, org, role="viewer")),
    )


class TestListJobs:
    def test_newest_first_with_filters_and_only_the_callers_org(self, client, session, team):
        org, analyst, viewer = team
        other = create_org(session)
        old = make_job(session, org, state="succeeded")
        new = make_job(session, org, state="failed")
        make_job(session, other)
        body = client.get(JOBS, headers=viewer).json()
        assert [j["id"] for j in body["items"]] == [new.id, old.id] and body["total"] == 2
        assert "errors" not in body["items"][0]
        failed = client.get(JOBS, params={"state": "failed"}, headers=viewer).json()
        assert [j["id"] for j in failed["items"]] == [new.id]
        assert client.get(JOBS, params={"kind": "export"}, headers=viewer).json()["total"] == 0
        assert client.get(JOBS, params={"state": "lost"}, headers=viewer).status_code == 422


class TestGetJob:
    def test_progress_and_report_for_any_role(self, client, session, team):
        org, _, viewer = team
        job = make_job(
            session,
            org,
            state="running",
            processed=250,
            total=1000,
            errors=[{"row": 3, "column": "amount", "value": "x", "reason": "not a number"}],
            error_count=1,
        )
        body = client.get(f"{JOBS}/{job.id}", headers=viewer).json()
        assert (body["state"], body["processed"], body["total"], body["progress"]) == (
            "running",
            250,
            1000,
            0.25,
        )
        assert body["errors"] == [
            {"row": 3, "column": "amount", "value": "x", "reason": "not a number"}
        ]

    def test_missing_and_other_orgs_jobs_are_404(self, client, session, team):
        _, analyst, _ = team
        elsewhere = make_job(session, create_org(session))
        assert client.get(f"{JOBS}/{elsewhere.id}", headers=analyst).status_code == 404
        assert client.get(f"{JOBS}/999999999", headers=analyst).status_code == 404


class TestRetryJob:
    def test_a_job_that_failed_on_its_input_is_not_retried(self, client, session, team):
        org, analyst, _ = team
        job = make_job(session, org, state="failed", result={"retryable": False})
        response = client.post(f"{JOBS}/{job.id}/retry", headers=analyst)
        assert response.status_code == 409

    @pytest.mark.parametrize("state", ["succeeded", "queued", "cancelled"])
    def test_finished_or_waiting_jobs_are_not_retried(self, client, session, team, state):
        org, analyst, _ = team
        job = make_job(session, org, state=state)
        assert client.post(f"{JOBS}/{job.id}/retry", headers=analyst).status_code == 409

    def test_a_running_job_whose_worker_holds_it_is_not_retried(
        self, client, session, engine, team
    ):
        org, analyst, _ = team
        job = make_job(session, org, state="running")
        with engine.connect() as worker:  # a live worker holds the job's run lock
            worker.execute(text(run_lock_sql("pg_advisory_lock")), {"job_id": job.id})
            try:
                response = client.post(f"{JOBS}/{job.id}/retry", headers=analyst)
            finally:
                worker.execute(text(run_lock_sql("pg_advisory_unlock")), {"job_id": job.id})
        assert response.status_code == 409 and "running" in response.text

    def test_a_stalled_import_is_requeued_and_then_completes(
        self, client, session, connection, team
    ):
        org, analyst, _ = team
        response = upload(
            client, analyst, ONLINE_RETAIL_SAMPLE.read_bytes(), format="online-retail"
        )
        job_id = response.json()["id"]
        job = session.get(Job, (org.id, job_id))
        queue_job = job.queue_job_id
        assert queue_status(connection, queue_job) == "todo"
        # A worker fetched it, marked it running, then died (nothing committed, lock free).
        connection.execute(
            text("UPDATE procrastinate_jobs SET status = 'doing' WHERE id = :id"), {"id": queue_job}
        )
        job.state, job.attempts, job.processed = "running", 1, 100
        session.flush()

        retried = client.post(f"{JOBS}/{job_id}/retry", headers=analyst)
        assert retried.status_code == 202, retried.text
        assert (retried.json()["state"], retried.json()["processed"]) == ("queued", 0)
        # procrastinate's own retry of the same queue job: back to todo, its lock freed.
        assert queue_status(connection, queue_job) == "todo"
        run_job_here(connection, org.id, job_id)
        session.expire(job)  # the worker wrote behind the ORM's back
        done = client.get(f"{JOBS}/{job_id}", headers=analyst).json()
        assert (done["state"], done["attempts"], done["result"]["new"]) == ("succeeded", 2, 466)

    def test_a_failed_job_whose_queue_entry_is_gone_is_queued_anew(
        self, client, session, connection, team
    ):
        org, analyst, _ = team
        job = make_job(session, org, state="failed", result={"error": "boom", "retryable": True})
        response = client.post(f"{JOBS}/{job.id}/retry", headers=analyst)
        assert response.status_code == 202
        session.refresh(job)
        assert job.queue_job_id and queue_status(connection, job.queue_job_id) == "todo"
