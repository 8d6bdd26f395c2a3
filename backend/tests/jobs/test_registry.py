"""Declaring a job kind is all it takes: a kind declared in a test module (tests.jobs.toy_job) is
queued with `enqueue`, run by a real `spendlens worker` told to import that module, and followed
through its `jobs` row. The registry refuses a second declaration of a kind, `enqueue` refuses a
kind nobody declared, and the kinds already deployed keep the task names queued jobs carry."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from spendlens.jobs import service as jobs_service
from spendlens.jobs.queue import queue
from spendlens.jobs.registry import (
    JobKindAlreadyDeclared,
    UnknownJobKind,
    enqueue,
    find_kind,
    import_worker_modules,
    job_kind,
)
from spendlens.models import Job

from tests.builders import create_customer, create_org
from tests.jobs import toy_job
from tests.jobs.test_workers import wait_for


def queue_entries(conn, job_id: int) -> int:
    """How many procrastinate jobs run the `jobs` row `job_id`."""
    return conn.execute(
        text("SELECT count(*) FROM procrastinate_jobs WHERE (args->>'job_id')::bigint = :id"),
        {"id": job_id},
    ).scalar_one()


def test_a_kind_declared_in_a_test_module_is_queued_run_by_a_worker_and_followed(
    worker_db, start_worker
):
    org = worker_db.org()
    other = worker_db.org()
    with worker_db.session() as session:
        for owner, count in ((org, 3), (other, 2)):
            for _ in range(count):
                create_customer(session, owner)
        session.commit()
    with worker_db.engine.begin() as conn:
        job_id = enqueue(conn, org.id, toy_job.KIND, {"label": "toy"})
        # Not visible to a worker before this commits; the row says how to find its queue entry.
        assert queue_entries(conn, job_id) == 1
    start_worker("--import", "tests.jobs.toy_job")

    def finished():
        with worker_db.session() as session:
            job = jobs_service.get_job(session, org.id, job_id)  # what GET /jobs/{id} answers
            return job if job.state in ("succeeded", "failed") else None

    job = wait_for(finished, what="the count_customers job to finish")
    assert (job.kind, job.state, job.attempts) == ("count_customers", "succeeded", 1)
    assert job.result["customers"] == 3 and job.result["label"] == "toy"  # its own org only
    assert job.processed == job.total == 3 and job.progress == 1.0
    assert set(job.result["seconds"]) == {"count"}  # Progress.phase timings land in the result


def test_enqueue_commits_with_the_caller_or_not_at_all(worker_db):
    org = worker_db.org()
    with worker_db.engine.connect() as conn:
        with conn.begin() as transaction:
            job_id = enqueue(conn, org.id, toy_job.KIND, {"label": "abandoned"})
            transaction.rollback()
        assert conn.execute(select(func.count()).where(Job.id == job_id)).scalar_one() == 0
        assert queue_entries(conn, job_id) == 0


def test_a_second_declaration_of_a_kind_is_refused():
    with pytest.raises(JobKindAlreadyDeclared, match="count_customers"):
        job_kind(toy_job.KIND, task="tests.count_customers_again")(toy_job.count_customers)
    assert find_kind(toy_job.KIND).task_name == toy_job.TASK
    assert "tests.count_customers_again" not in queue.tasks


def test_a_new_kind_cannot_take_an_existing_task_name():
    import_worker_modules()  # as a worker does before the modules given with --import
    with pytest.raises(JobKindAlreadyDeclared, match="imports.run"):
        job_kind("another_import", task="imports.run")(toy_job.count_customers)
    with pytest.raises(UnknownJobKind):
        find_kind("another_import")


def test_enqueue_of_an_unknown_kind_is_a_clear_error_and_writes_nothing(session):
    org = create_org(session)
    conn = session.connection()
    with pytest.raises(UnknownJobKind, match="No job kind 'count_sheep' is declared"):
        enqueue(conn, org.id, "count_sheep", {})
    assert conn.execute(select(func.count()).where(Job.org_id == org.id)).scalar_one() == 0


def test_deployed_kinds_keep_the_task_names_their_queued_jobs_carry():
    # Jobs already in a deployed queue name these tasks: renaming one would strand them.
    deployed = {
        "import": "imports.run",
        "rfm": "segments.recompute",
        "clv_fit": "clv.fit",
        "journey": "journey.rebuild",
        "model_train": "prediction.train",
    }
    for kind, task in deployed.items():
        assert find_kind(kind).task_name == task
        assert task in queue.tasks
