"""Cohorts API: the retention matrix (customers and revenue; weeks, months, quarters) equals an
independent computation in Python over rows read with plain SQL, empty periods are zeros, the
bounds and defaults hold, tenants never see each other's cohorts, and bad input gets 422."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

import pytest

from spendlens.cohorts.schemas import CohortPeriod
from spendlens.cohorts.service import add_periods, period_start, periods_between
from spendlens.testing import DEMO_AS_OF
from tests.builders import create_customer, create_org, create_transaction, create_user, headers_for
from tests.segments import reference

COHORTS = "/api/v1/cohorts"


@pytest.fixture(scope="module")
def refs(engine) -> dict[str, reference.Org]:
    with engine.connect() as conn:
        return {slug: reference.read_org_by_slug(conn, slug) for slug in ("acme-retail", "globex")}


def ratio(part, whole) -> float | None:
    if whole == 0:
        return None
    quotient = (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return float(quotient)


def expected_matrix(org, period, first, last, as_of, metric) -> list[dict]:
    rows = []
    for cohort_start, ref in reference.cohorts(org, period, first, last, as_of).items():
        rows.append(
            {
                "cohort_start": cohort_start.isoformat(),
                "size": ref.size,
                "first_period_revenue": f"{ref.first_revenue:.2f}",
                "cells": [
                    {
                        "offset": offset,
                        "period_start": p.isoformat(),
                        "customers": active,
                        "revenue": f"{revenue:.2f}",
                        "value": (
                            ratio(active, ref.size)
                            if metric == "customers"
                            else ratio(revenue, ref.first_revenue)
                        ),
                    }
                    for offset, (p, active, revenue) in enumerate(ref.cells)
                ],
            }
        )
    return rows


class TestGetCohorts:
    @pytest.mark.parametrize("metric", ["customers", "revenue"])
    def test_monthly_matrix_matches_independent_computation(
        self, client, auth_headers, refs, metric
    ):
        params = {"metric": metric, "as_of": DEMO_AS_OF.isoformat()}
        response = client.get(COHORTS, params=params, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 200, response.text
        body = response.json()
        first, last = date(2025, 7, 1), date(2026, 6, 1)  # the 12 months up to as_of
        assert (body["period"], body["metric"], body["currency"]) == ("month", metric, "USD")
        assert (body["start"], body["end"], body["as_of"]) == (
            first.isoformat(),
            last.isoformat(),
            "2026-06-30",
        )
        expected = expected_matrix(refs["acme-retail"], "month", first, last, DEMO_AS_OF, metric)
        assert body["cohorts"] == expected
        assert len(body["cohorts"]) == 12 and len(body["cohorts"][0]["cells"]) == 12
        assert all(row["size"] > 0 for row in body["cohorts"])
        if metric == "customers":
            assert {row["cells"][0]["value"] for row in body["cohorts"]} == {1.0}

    @pytest.mark.parametrize(
        "period, start, end",
        [("week", "2026-04-01", "2026-05-20"), ("quarter", "2024-08-15", "2026-02-01")],
    )
    def test_weeks_and_quarters_with_bounds(self, client, auth_headers, refs, period, start, end):
        params = {"period": period, "metric": "revenue", "start": start, "end": end}
        params["as_of"] = DEMO_AS_OF.isoformat()
        body = client.get(
            COHORTS, params=params, headers=auth_headers("analyst@globex.example")
        ).json()
        first = reference.period_start(date.fromisoformat(start), period)
        last = reference.period_start(date.fromisoformat(end), period)
        assert (body["start"], body["end"], body["currency"]) == (
            first.isoformat(),
            last.isoformat(),
            "EUR",
        )
        assert body["cohorts"] == expected_matrix(
            refs["globex"], period, first, last, DEMO_AS_OF, "revenue"
        )

    def test_empty_periods_and_empty_cohorts_are_zero_not_missing(self, client, session):
        org = create_org(session)
        headers = headers_for(create_user(session, org, role="viewer"))
        a, b = create_customer(session, org), create_customer(session, org)

        def buy(customer, day, amount="10.00", **kw):
            moment = datetime.fromisoformat(f"{day}T12:00:00+00:00")
            create_transaction(session, org, customer, occurred_at=moment, amount=amount, **kw)

        buy(a, "2026-01-10", "100.00")
        buy(a, "2026-01-20", "-20.00", kind="refund")
        buy(a, "2026-04-02", "40.00")  # nothing in February and March
        buy(b, "2026-03-05", "25.00")
        buy(b, "2026-03-06", "5.00", currency="EUR")  # another currency: not counted
        params = {"start": "2026-01-01", "end": "2026-03-31", "as_of": "2026-04-30"}
        body = client.get(COHORTS, params=params, headers=headers).json()
        cohorts = {row["cohort_start"]: row for row in body["cohorts"]}
        assert list(cohorts) == ["2026-01-01", "2026-02-01", "2026-03-01"]
        january = cohorts["2026-01-01"]
        assert (january["size"], january["first_period_revenue"]) == (1, "80.00")
        assert [(c["customers"], c["revenue"], c["value"]) for c in january["cells"]] == [
            (1, "80.00", 1.0),
            (0, "0.00", 0.0),
            (0, "0.00", 0.0),
            (1, "40.00", 1.0),
        ]
        february = cohorts["2026-02-01"]
        assert february["size"] == 0 and [c["value"] for c in february["cells"]] == [None] * 3
        assert [c["period_start"] for c in cohorts["2026-03-01"]["cells"]] == [
            "2026-03-01",
            "2026-04-01",
        ]
        revenue = client.get(COHORTS, params={**params, "metric": "revenue"}, headers=headers)
        january = revenue.json()["cohorts"][0]
        assert [c["value"] for c in january["cells"]] == [1.0, 0.0, 0.0, 0.5]

    def test_default_as_of_is_today_in_the_organisations_zone(self, client, session):
        org = create_org(session, timezone="America/Los_Angeles")
        headers = headers_for(create_user(session, org, role="viewer"))
        customer = create_customer(session, org)
        create_transaction(session, org, customer, occurred_at=datetime.now(UTC))
        body = client.get(COHORTS, headers=headers).json()
        today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
        assert body["as_of"] == today.isoformat()
        assert body["end"] == today.replace(day=1).isoformat()
        assert len(body["cohorts"]) == 12

    def test_another_organisations_customers_never_count(self, client, session):
        org = create_org(session)
        headers = headers_for(create_user(session, org, role="viewer"))
        body = client.get(COHORTS, params={"as_of": "2026-06-30"}, headers=headers).json()
        assert {row["size"] for row in body["cohorts"]} == {0}
        assert {c["revenue"] for row in body["cohorts"] for c in row["cells"]} == {"0.00"}

    @pytest.mark.parametrize(
        "params",
        [
            {"period": "day"},
            {"period": "year"},
            {"metric": "orders"},
            {"start": "2026-05-01", "end": "2026-04-01"},
            {"end": "2999-01-01"},
            {"as_of": "2999-01-01"},
            {"as_of": "2026-06-30", "end": "2026-07-01"},
            {"period": "week", "start": "2020-01-01", "end": "2026-06-30"},
            {"period": "week", "start": "2020-01-01", "end": "2020-02-01", "as_of": "2026-06-30"},
            {"start": "not-a-date"},
        ],
    )
    def test_bad_parameters_are_422(self, client, auth_headers, params):
        response = client.get(COHORTS, params=params, headers=auth_headers("viewer@acme.example"))
        assert response.status_code == 422, response.text
        assert response.json()["error"] == "ValidationError"


class TestPeriodArithmetic:
    @pytest.mark.parametrize(
        "day, period, start",
        [
            ("2026-06-30", "week", "2026-06-29"),
            ("2026-06-28", "week", "2026-06-22"),
            ("2026-06-30", "month", "2026-06-01"),
            ("2026-06-30", "quarter", "2026-04-01"),
            ("2026-12-31", "quarter", "2026-10-01"),
        ],
    )
    def test_period_start(self, day, period, start):
        got = period_start(date.fromisoformat(day), CohortPeriod(period))
        assert got == date.fromisoformat(start)
        assert got == reference.period_start(date.fromisoformat(day), period)

    def test_adding_and_counting_periods(self):
        assert add_periods(date(2026, 1, 1), CohortPeriod.month, -11) == date(2025, 2, 1)
        assert add_periods(date(2026, 1, 1), CohortPeriod.quarter, 5) == date(2027, 4, 1)
        assert add_periods(date(2026, 6, 29), CohortPeriod.week, -2) == date(2026, 6, 15)
        assert periods_between(date(2025, 2, 1), date(2026, 1, 1), CohortPeriod.month) == 11
        assert periods_between(date(2024, 7, 1), date(2026, 1, 1), CohortPeriod.quarter) == 6
        assert periods_between(date(2026, 6, 15), date(2026, 6, 29), CohortPeriod.week) == 2
