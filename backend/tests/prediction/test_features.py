"""Features and labels at a cutoff: by hand for a small organisation, and no feature reads
anything after the cutoff (adding purchases and events after it changes no feature)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import numpy as np
from sqlalchemy import text

from spendlens.prediction.features import FEATURES, Target, frame_at, load_activity
from spendlens.prediction.service import default_train_cutoffs, months_before
from tests.builders import create_customer, create_org, create_transaction

C = date(2026, 3, 31)


def at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def add_event(connection, org, customer, type_: str, when: datetime) -> None:
    connection.execute(
        text(
            "INSERT INTO events (org_id, event_id, customer_id, type, occurred_at) "
            "VALUES (:org, :id, :customer, :type, :at)"
        ),
        {"org": org.id, "id": uuid.uuid4(), "customer": customer.id, "type": type_, "at": when},
    )


def frames(connection, org, until: date):
    activity = load_activity(connection, org.id, org.base_currency, until=until)
    return {target: frame_at(activity, target, C, labels=True) for target in Target}


def by_customer(frame, customer_id: int) -> dict[str, float]:
    row = int(np.flatnonzero(frame.customer_id == customer_id)[0])
    return dict(zip(FEATURES, frame.features[row].tolist()))


class TestFeaturesAtACutoff:
    def test_figures_by_hand(self, session, connection):
        org = create_org(session)
        regular = create_customer(session, org)
        gone = create_customer(session, org)
        for day, amount in (("2026-01-10", 10), ("2026-02-09", 20), ("2026-03-11", 30)):
            create_transaction(session, org, regular, occurred_at=at(day), amount=amount)
        # Two purchases on one UTC day are one purchase day; another currency counts as a
        # purchase but not as spend; a refund is no purchase.
        create_transaction(session, org, regular, occurred_at=at("2026-03-11", 23), amount=5)
        create_transaction(
            session, org, regular, occurred_at=at("2026-03-20"), amount=7, currency="EUR"
        )
        create_transaction(
            session, org, regular, occurred_at=at("2026-03-25"), amount=-5, kind="refund"
        )
        create_transaction(session, org, gone, occurred_at=at("2024-12-01"), amount=50)
        add_event(connection, org, regular, "login", at("2026-03-30"))
        add_event(connection, org, regular, "support_ticket_opened", at("2026-03-01"))
        add_event(connection, org, regular, "payment_failed", at("2026-02-01"))
        session.flush()

        found = frames(connection, org, until=date(2026, 7, 1))
        purchase = found[Target.purchase_30d]
        assert sorted(purchase.customer_id.tolist()) == sorted([regular.id, gone.id])
        # Only the regular bought in the 365 days up to C.
        assert found[Target.churn_90d].customer_id.tolist() == [regular.id]
        f = by_customer(purchase, regular.id)
        assert f["frequency"] == 4  # 01-10, 02-09, 03-11, 03-20
        assert f["recency_days"] == 11  # 03-20 → 03-31
        assert f["tenure_days"] == 80  # 01-10 → 03-31
        assert f["monetary"] == (10 + 20 + 35) / 4
        assert f["purchases_30d"] == 2 and f["purchases_90d"] == 4
        assert f["spend_30d"] == 35 and f["spend_90d"] == 65
        assert f["mean_gap_days"] == 69 / 3
        assert f["gap_ratio"] == 11 / (69 / 3)
        assert f["logins_30d"] == 1 and f["tickets_90d"] == 1 and f["open_tickets"] == 1
        assert f["failed_payments_90d"] == 1 and f["days_since_event"] == 1
        g = by_customer(purchase, gone.id)
        assert g["frequency"] == 1 and np.isnan(g["mean_gap_days"])
        assert np.isnan(g["days_since_event"])

    def test_labels_read_the_window_after_the_cutoff(self, session, connection):
        org = create_org(session)
        buys = create_customer(session, org)
        logs_in = create_customer(session, org)
        quiet = create_customer(session, org)
        for customer in (buys, logs_in, quiet):
            create_transaction(session, org, customer, occurred_at=at("2026-03-01"))
        create_transaction(session, org, buys, occurred_at=at("2026-04-30", 23))  # C+30
        create_transaction(session, org, quiet, occurred_at=at("2026-06-30"))  # C+91
        add_event(connection, org, logs_in, "login", at("2026-06-29"))  # C+90
        session.flush()
        found = frames(connection, org, until=date(2026, 7, 31))
        purchase = dict(zip(found[Target.purchase_30d].customer_id.tolist(),
                            found[Target.purchase_30d].labels.tolist()))  # fmt: skip
        churn = dict(zip(found[Target.churn_90d].customer_id.tolist(),
                         found[Target.churn_90d].labels.tolist()))  # fmt: skip
        assert purchase == {buys.id: 1, logs_in.id: 0, quiet.id: 0}
        assert churn == {buys.id: 0, logs_in.id: 0, quiet.id: 1}

    def test_nothing_after_the_cutoff_changes_a_feature(self, session, connection, demo):
        org = demo.globex
        before = frames(connection, org, until=date(2026, 6, 30))
        customers = session.execute(
            text("SELECT id FROM customers WHERE org_id = :org ORDER BY id LIMIT 40"),
            {"org": org.id},
        ).scalars()
        for n, customer_id in enumerate(customers):
            customer = type("C", (), {"id": customer_id})
            for hour in (0, 12):
                # The first instant after C, and later days.
                create_transaction(
                    session, org, customer, occurred_at=datetime(2026, 4, 1 + n % 20, hour,
                                                                 tzinfo=UTC), amount=999,
                )  # fmt: skip
            add_event(connection, org, customer, "login", datetime(2026, 4, 1, tzinfo=UTC))
            add_event(connection, org, customer, "payment_failed", at("2026-04-02"))
        session.flush()
        after = frames(connection, org, until=date(2026, 6, 30))
        for target in Target:
            assert np.array_equal(before[target].customer_id, after[target].customer_id)
            assert np.array_equal(before[target].features, after[target].features, equal_nan=True)
        # The labels do read those days.
        assert not np.array_equal(
            before[Target.purchase_30d].labels, after[Target.purchase_30d].labels
        )


class TestDefaultCutoffs:
    def test_month_ends_map_to_month_ends(self):
        assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
        assert months_before(date(2026, 3, 15), 1) == date(2026, 2, 15)
        assert months_before(date(2026, 3, 30), 1) == date(2026, 2, 28)

    def test_only_label_windows_that_end_by_the_test_cutoff(self):
        cutoffs = default_train_cutoffs(date(2026, 5, 31), 30)
        assert cutoffs[0] == date(2025, 5, 31) and cutoffs[-1] == date(2026, 4, 30)
        assert len(cutoffs) == 12
        churn = default_train_cutoffs(date(2026, 5, 31), 90)
        assert churn[-1] == date(2026, 2, 28) and len(churn) == 10
