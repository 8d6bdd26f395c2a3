"""A real `spendlens worker` on a database of its own runs an `alerts.evaluate` job, then the
delivery it queues: the local receiver gets one signed webhook and the local SMTP server one
email, and the delivery records say so."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from spendlens.alerts.schemas import RuleIn
from spendlens.alerts.service import create_rule, queue_evaluation
from spendlens.models import AlertDelivery, Job
from tests.builders import create_customer, create_transaction, create_user
from tests.jobs.conftest import start_worker, worker_db  # noqa: F401
from tests.jobs.test_workers import wait_for


def test_a_worker_evaluates_and_delivers(
    worker_db, start_worker, receiver, smtp_server, delivery_settings, monkeypatch  # noqa: F811
):
    inbox, smtp_port = smtp_server
    org = worker_db.org()
    now = datetime.now(UTC)
    with worker_db.session() as session:
        admin = create_user(session, org, role="admin")
        customer = create_customer(session, org, name="Grace Hopper")
        for at, amount in (
            (now - timedelta(days=10), "200.00"),
            (now - timedelta(days=2), "20.00"),
        ):
            create_transaction(
                session, org, customer, occurred_at=at, amount=amount, currency="GBP"
            )
        rule = create_rule(
            session,
            org.id,
            admin,
            RuleIn(
                name="Spend halved",
                kind="spend_drop",
                params={"days": 7, "percent": 50},
                webhooks=[{"url": receiver.url("/worker")}],
                emails=["team@shop.example"],
            ),
            delivery_settings,
        )
        receiver.secrets["/worker"] = rule.webhooks[0].secret
        job_id = queue_evaluation(session.connection(), org.id, trigger="api")
        session.commit()

    monkeypatch.setenv("SPENDLENS_WEBHOOKS_ALLOW_PRIVATE", "true")
    monkeypatch.setenv("SPENDLENS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SPENDLENS_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("SPENDLENS_SMTP_STARTTLS", "false")
    start_worker()

    wait_for(lambda: receiver.delivered(), timeout=120, what="the webhook")
    wait_for(lambda: inbox.messages, timeout=60, what="the email")

    def recorded():
        with worker_db.session() as session:
            states = session.execute(
                select(AlertDelivery.state).where(AlertDelivery.org_id == org.id)
            ).scalars()
            states = sorted(states)
            return states if states == ["delivered", "delivered"] else None

    wait_for(recorded, timeout=60, what="both deliveries to be recorded")
    with worker_db.session() as session:
        job = session.get(Job, (org.id, job_id))
    assert job.state == "succeeded" and job.result["alerts_raised"] == 1
    [hook] = receiver.received
    assert hook.signature_valid
    assert hook.json["alert"]["customer"]["name"] == "Grace Hopper"
    assert hook.json["alert"]["details"]["drop_percent"] == 90.0
    assert [m.rcpt_tos for m in inbox.messages] == [["team@shop.example"]]
