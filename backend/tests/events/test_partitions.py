"""Monthly partitions: events outside every monthly partition land in the default one; creating
a month moves its rows out of the default partition; the periodic task creates months ahead."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import text

from spendlens.events import service
from spendlens.events.partitions import (
    add_months,
    ensure_partitions,
    existing_partitions,
    months_between,
    partition_name,
)
from tests.builders import create_org
from tests.events.helpers import event


def _where(session, org_id):
    return dict(
        session.execute(
            text(
                "SELECT tableoid::regclass::text, count(*) FROM events WHERE org_id = :org "
                "GROUP BY 1"
            ),
            {"org": org_id},
        ).all()
    )


def test_month_arithmetic():
    assert add_months(date(2026, 11, 1), 3) == date(2027, 2, 1)
    assert add_months(date(2026, 1, 1), -1) == date(2025, 12, 1)
    assert months_between(date(2026, 11, 15), date(2027, 1, 2)) == [
        date(2026, 11, 1), date(2026, 12, 1), date(2027, 1, 1),
    ]  # fmt: skip
    assert partition_name(date(2031, 4, 1)) == "events_p203104"


def test_a_new_month_takes_its_rows_from_the_default_partition(session):
    org = create_org(session)
    batch = [
        event("login", "c", "2031-04-01T00:00:00Z"),
        event("login", "c", "2031-04-30T23:59:59+00:00"),
        event("login", "c", "2031-05-01T00:00:00Z"),
        event("login", "c", "1950-01-01T00:00:00Z"),
    ]
    service.ingest(session, org.id, batch)
    assert _where(session, org.id) == {"events_default": 4}
    conn = session.connection()
    created = ensure_partitions(conn, date(2031, 4, 1), date(2031, 4, 1))
    assert created == {"events_p203104": 2}
    assert _where(session, org.id) == {"events_default": 2, "events_p203104": 2}
    # Idempotent, and the new partition takes new events of its month.
    assert ensure_partitions(conn, date(2031, 4, 1), date(2031, 4, 1)) == {}
    service.ingest(session, org.id, [event("login", "c", "2031-04-15T00:00:00Z")])
    assert _where(session, org.id)["events_p203104"] == 3
    # The indexes and the foreign key came with it.
    indexes = session.execute(
        text("SELECT count(*) FROM pg_indexes WHERE tablename = 'events_p203104'")
    ).scalar_one()
    assert indexes >= 3


def test_the_periodic_task_creates_the_months_ahead(session, monkeypatch):
    from contextlib import contextmanager

    from spendlens.events import tasks

    @contextmanager
    def in_test_transaction(engine=None):
        yield session.connection()

    monkeypatch.setattr(tasks, "background_transaction", in_test_transaction)
    moment = datetime(2040, 2, 10, tzinfo=UTC)
    created = tasks.create_partitions_ahead(int(moment.timestamp()))
    assert set(created) == {"events_p204002", "events_p204003", "events_p204004", "events_p204005"}
    assert set(created) <= existing_partitions(session.connection())
    assert tasks.create_partitions_ahead(int(moment.timestamp())) == {}
