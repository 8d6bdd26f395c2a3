"""The customers' purchase summaries the CLV models are fitted on, aggregated in PostgreSQL, equal
an independent computation in Python over the raw rows of the seeded data; and the edges of the
definition (refunds, other currencies, several purchases in a day, the day boundaries of the
windows, customers acquired before the window) hold on rows made for the purpose."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import text

from spendlens.clv import repository
from tests.builders import create_customer, create_org, create_transaction


def python_summaries(rows, *, end: date, first_from: date | None, holdout_end: date | None):
    """{customer_id: (x, t_x days, T days, m_x or None, holdout purchase days)} from raw rows of
    (customer_id, occurred_at, amount, kind, currency) already limited to the base currency."""
    spend_by_day: dict[int, dict[date, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    last_day = holdout_end or end
    for customer_id, occurred_at, amount, kind in rows:
        day = occurred_at.astimezone(UTC).date()
        if kind == "purchase" and day <= last_day:
            spend_by_day[customer_id][day] += amount
    result = {}
    for customer_id, days in spend_by_day.items():
        first = min(days)
        if first > end or (first_from is not None and first < first_from):
            continue
        calibration = sorted(d for d in days if d <= end)
        repeat = calibration[1:]
        monetary = sum(days[d] for d in repeat) / len(repeat) if repeat else None
        holdout = sum(1 for d in days if d > end) if holdout_end else 0
        result[customer_id] = (
            len(calibration) - 1,
            (calibration[-1] - first).days,
            (end - first).days,
            monetary,
            holdout,
        )
    return result


def as_dict(summaries: repository.PurchaseSummaries):
    return {
        int(c): (int(x), int(r), int(a), None if np.isnan(m) else m, int(h))
        for c, x, r, a, m, h in zip(
            summaries.customer_id,
            summaries.frequency,
            summaries.recency_days,
            summaries.age_days,
            summaries.monetary,
            summaries.holdout_frequency,
        )
    }


def assert_same(ours: dict, reference: dict) -> None:
    assert ours.keys() == reference.keys()
    for customer_id, (x, t_x, T, m, holdout) in reference.items():
        got = ours[customer_id]
        assert got[:3] == (x, t_x, T) and got[4] == holdout, customer_id
        if m is None:
            assert got[3] is None, customer_id
        else:
            assert got[3] == pytest.approx(float(m), rel=1e-12), customer_id


@pytest.fixture(scope="module")
def acme_rows(engine):
    with engine.connect() as conn:
        org = conn.execute(
            text("SELECT id, base_currency FROM organizations WHERE slug = 'acme-retail'")
        ).one()
        rows = conn.execute(
            text(
                "SELECT customer_id, occurred_at, amount, kind FROM transactions "
                "WHERE org_id = :org AND currency = :currency"
            ),
            {"org": org.id, "currency": org.base_currency},
        ).all()
    return org, rows


@pytest.mark.parametrize(
    "first_from,end,holdout_end",
    [
        (date(2024, 7, 1), date(2025, 12, 31), date(2026, 6, 30)),
        (date(2025, 1, 1), date(2025, 6, 30), None),
        (None, date(2026, 6, 30), None),
    ],
)
def test_summaries_equal_a_python_computation_over_the_seeded_rows(
    connection, acme_rows, first_from, end, holdout_end
):
    org, rows = acme_rows
    summaries = repository.purchase_summaries(
        connection,
        org.id,
        org.base_currency,
        first_from=first_from,
        end=end,
        holdout_end=holdout_end,
    )
    reference = python_summaries(rows, end=end, first_from=first_from, holdout_end=holdout_end)
    assert len(reference) > 100
    assert_same(as_dict(summaries), reference)


def test_the_edges_of_the_definition(session, connection):
    org = create_org(session, base_currency="EUR")
    start, end, holdout_end = date(2025, 1, 1), date(2025, 6, 30), date(2025, 9, 30)

    def at(day: date, hour: int = 12, minute: int = 0) -> datetime:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)

    def buy(customer, day, amount, **overrides):
        values = {"occurred_at": at(day), "amount": amount, "currency": "EUR", **overrides}
        create_transaction(session, org, customer, **values)

    regular = create_customer(session, org)
    buy(regular, date(2025, 2, 1), "10.00")  # first purchase
    buy(regular, date(2025, 3, 1), "20.00")
    buy(regular, date(2025, 3, 1), "5.00", occurred_at=at(date(2025, 3, 1), 18))  # same day
    buy(regular, date(2025, 3, 5), "-5.00", kind="refund")  # refunds are not purchases
    buy(regular, date(2025, 4, 1), "99.00", currency="USD")  # another currency
    buy(regular, end, "15.00", occurred_at=at(end, 23, 59))  # the last minute of calibration
    buy(regular, end + timedelta(days=1), "7.00", occurred_at=at(end + timedelta(days=1), 0))
    buy(regular, holdout_end, "7.00", occurred_at=at(holdout_end, 23, 59))
    buy(
        regular,
        holdout_end + timedelta(days=1),
        "7.00",
        occurred_at=at(holdout_end, 23, 59) + timedelta(minutes=1),
    )

    one_off = create_customer(session, org)
    buy(one_off, date(2025, 6, 30), "30.00")

    acquired_before = create_customer(session, org)
    buy(acquired_before, date(2024, 12, 31), "30.00", occurred_at=at(date(2024, 12, 31), 23, 59))
    buy(acquired_before, date(2025, 2, 1), "30.00")

    refund_only = create_customer(session, org)
    buy(refund_only, date(2025, 2, 1), "-3.00", kind="refund")
    first_in_holdout = create_customer(session, org)
    buy(first_in_holdout, date(2025, 7, 1), "30.00")
    create_customer(session, org)  # never bought

    summaries = repository.purchase_summaries(
        connection, org.id, "EUR", first_from=start, end=end, holdout_end=holdout_end
    )
    assert as_dict(summaries) == {
        # x: Mar 1 and Jun 30 after Feb 1; m_x = (25 + 15) / 2; holdout: Jul 1 and Sep 30.
        regular.id: (2, (end - date(2025, 2, 1)).days, (end - date(2025, 2, 1)).days, 20.0, 2),
        one_off.id: (0, 0, 0, None, 0),
    }
    everyone = repository.purchase_summaries(connection, org.id, "EUR", end=end)
    assert set(as_dict(everyone)) == {regular.id, one_off.id, acquired_before.id}
    assert as_dict(everyone)[acquired_before.id] == (1, 32, 181, 30.0, 0)
