"""Real `spendlens worker` processes against a database of their own (committed for real, since
the per-test rolled-back transaction is invisible to other connections): several workers never run
a job twice, and a worker killed mid-import leaves the data as it was until a retry completes it."""

from __future__ import annotations

import io
import signal
import time
from datetime import date

from sqlalchemy import func, select

from spendlens.errors import Conflict
from spendlens.imports.schemas import ImportFormat
from spendlens.imports.service import ImportOptions, check_upload, create_import_job
from spendlens.jobs import service as jobs_service
from spendlens.models import Customer, Job, Organization, RfmSnapshot, Transaction

from tests.jobs.conftest import WorkerDatabase

HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"


def invoice_file(rows: int, first_invoice: int, customers: int = 20) -> bytes:
    lines = [
        f"{first_invoice + i // 5},{30000 + i % 5},THING {i % 30},{1 + i % 4},"
        f"3/{1 + i % 28}/2011 {i % 24}:{i % 60:02d},{1 + i % 7}.50,{17000 + i % customers},Spain\n"
        for i in range(rows)
    ]
    return (HEADER + "".join(lines)).encode()


def queue_import(db: WorkerDatabase, org: Organization, content: bytes) -> int:
    options = ImportOptions(format=ImportFormat.online_retail, filename="invoices.csv")
    with db.app_session(org.id) as session:  # as the API does it: the upload is the app's
        org = session.get(Organization, org.id)
        job = create_import_job(session, org, None, check_upload(io.BytesIO(content), options))
        session.commit()
        return job.id


def jobs_of(db: WorkerDatabase, ids: list[int]) -> list[Job]:
    with db.session() as session:
        return list(session.execute(select(Job).where(Job.id.in_(ids))).scalars())


def wait_for(predicate, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def data_counts(db: WorkerDatabase, org_id: int) -> tuple[int, int]:
    with db.session() as session:
        transactions = session.execute(
            select(func.count()).select_from(Transaction).where(Transaction.org_id == org_id)
        ).scalar_one()
        customers = session.execute(
            select(func.count()).select_from(Customer).where(Customer.org_id == org_id)
        ).scalar_one()
        return transactions, customers


def test_two_workers_run_each_job_exactly_once(worker_db, start_worker):
    first, second = start_worker("--name", "w1"), start_worker("--name", "w2")
    orgs = [worker_db.org(), worker_db.org()]
    ids = [
        queue_import(worker_db, org, invoice_file(300, first_invoice=100000 + 1000 * n))
        for n in range(4)
        for org in orgs
    ]
    finished = wait_for(
        lambda: all(j.state in ("succeeded", "failed") for j in jobs_of(worker_db, ids)) or None,
        what="all jobs to finish",
    )
    assert finished
    jobs = jobs_of(worker_db, ids)
    assert [j.state for j in jobs] == ["succeeded"] * len(ids)
    # Each job was started by exactly one worker, once, and added its own rows.
    assert [j.attempts for j in jobs] == [1] * len(ids)
    assert all(j.result["new"] == 300 and j.processed == j.total == 300 for j in jobs)
    for org in orgs:
        assert data_counts(worker_db, org.id)[0] == 4 * 300
    assert first.poll() is None and second.poll() is None  # both still serving


def test_a_killed_worker_leaves_the_data_as_it_was_and_a_retry_completes(worker_db, start_worker):
    org = worker_db.org()
    before = data_counts(worker_db, org.id)
    # Small write batches with a pause after each: the job is mid-way for several seconds.
    doomed = start_worker("--chunk-rows", "100", "--step-delay", "0.5")
    job_id = queue_import(worker_db, org, invoice_file(1200, first_invoice=500000))

    def midway():
        (job,) = jobs_of(worker_db, [job_id])
        return job.state == "running" and 0 < job.processed < job.total

    wait_for(midway, what="the job to be half done")
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=10)

    # Rows were inserted (uncommitted) before the kill; none of them is visible, ever.
    for _ in range(5):
        assert data_counts(worker_db, org.id) == before
        time.sleep(0.2)
    (job,) = jobs_of(worker_db, [job_id])
    assert job.state == "running" and job.attempts == 1

    def retried():
        with worker_db.app_session(org.id) as session:
            try:
                out = jobs_service.retry_job(session, org.id, job_id)
            except Conflict:  # the dead worker's backend is still rolling back
                session.rollback()
                return None
            session.commit()
            return out

    assert wait_for(retried, timeout=20, what="the retry to be accepted").state == "queued"
    start_worker()
    wait_for(
        lambda: jobs_of(worker_db, [job_id])[0].state in ("succeeded", "failed"),
        what="the retried job to finish",
    )
    (job,) = jobs_of(worker_db, [job_id])
    assert job.state == "succeeded", job.result
    assert job.attempts == 2 and job.processed == job.total == 1200
    assert job.result["new"] == 1200
    assert data_counts(worker_db, org.id) == (before[0] + 1200, before[1] + 20)


def test_an_import_run_by_a_worker_queues_the_rfm_recompute_that_a_worker_runs(
    worker_db, start_worker
):
    start_worker()
    org = worker_db.org()
    job_id = queue_import(worker_db, org, invoice_file(200, first_invoice=700000, customers=10))
    wait_for(
        lambda: jobs_of(worker_db, [job_id])[0].state in ("succeeded", "failed"),
        what="the import to finish",
    )
    (job,) = jobs_of(worker_db, [job_id])
    assert job.state == "succeeded", job.result
    # The worker deferred the recompute inside the import's transaction, then ran it.
    rfm_id = job.result["rfm_job_id"]
    wait_for(
        lambda: jobs_of(worker_db, [rfm_id])[0].state in ("succeeded", "failed"),
        what="the RFM recompute to finish",
    )
    (rfm,) = jobs_of(worker_db, [rfm_id])
    assert (rfm.kind, rfm.state, rfm.params["trigger"]) == ("rfm", "succeeded", "import")
    with worker_db.session() as session:
        snapshot = session.get(RfmSnapshot, (org.id, date.fromisoformat(rfm.params["as_of"])))
        assert snapshot is not None and snapshot.customers == 10 and snapshot.job_id == rfm_id
