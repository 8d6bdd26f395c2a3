"""Metrics API: every figure equals an independent computation in Python over rows read with plain
SQL, time series are gapless and add up to the summary, breakdowns add up to the total, tenants
never see each other's spending, and bad input gets a 422 JSON error."""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from tests.builders import (
    create_customer,
    create_merchant,
    create_org,
    create_transaction,
    create_user,
    headers_for,
)

SUMMARY = "/api/v1/metrics"
TIMESERIES = "/api/v1/metrics/timeseries"
BREAKDOWN = "/api/v1/metrics/breakdown"
FIGURES = (
    "total_spend",
    "transaction_count",
    "average_transaction",
    "median_transaction",
    "active_customers",
)

Q2_2026 = (date(2026, 4, 1), date(2026, 6, 30))  # 91 days; the 91 days before: 2025-12-31 ..
Q2_PREVIOUS = (date(2025, 12, 31), date(2026, 3, 31))
FILTER_CATEGORIES = ("Groceries", "Restaurants")


# ---------------------------------------------------------------------------------------------
# The reference: rows read with a plain SELECT, figures computed with nothing but Python.


@dataclass(frozen=True)
class Row:
    customer_id: int
    customer_name: str
    merchant_id: int | None
    merchant: str | None
    category: str
    amount: Decimal
    kind: str
    currency: str
    day: date  # UTC calendar day


def read_rows(conn, slug: str) -> list[Row]:
    result = conn.execute(
        text("""
            SELECT t.customer_id, c.name AS customer_name, t.merchant_id, m.name AS merchant,
                   t.category, t.amount, t.kind, t.currency, t.occurred_at
            FROM transactions t
            JOIN organizations o ON o.id = t.org_id
            JOIN customers c ON c.org_id = t.org_id AND c.id = t.customer_id
            LEFT JOIN merchants m ON m.org_id = t.org_id AND m.id = t.merchant_id
            WHERE o.slug = :slug
            """),
        {"slug": slug},
    ).mappings()
    return [
        Row(
            customer_id=r["customer_id"],
            customer_name=r["customer_name"],
            merchant_id=r["merchant_id"],
            merchant=r["merchant"],
            category=r["category"],
            amount=r["amount"],
            kind=r["kind"],
            currency=r["currency"],
            day=r["occurred_at"].astimezone(UTC).date(),
        )
        for r in result
    ]


@pytest.fixture(scope="module")
def acme_rows(engine) -> list[Row]:
    with engine.connect() as conn:
        return read_rows(conn, "acme-retail")


@pytest.fixture(scope="module")
def globex_rows(engine) -> list[Row]:
    with engine.connect() as conn:
        return read_rows(conn, "globex")


def select_rows(
    rows: Iterable[Row],
    start: date,
    end: date,
    *,
    categories: Iterable[str] = (),
    merchants: Iterable[str] = (),
    currency: str | None = None,
) -> list[Row]:
    categories = set(categories)
    merchants = {m.lower() for m in merchants}
    return [
        r
        for r in rows
        if start <= r.day <= end
        and (not categories or r.category in categories)
        and (not merchants or (r.merchant is not None and r.merchant.lower() in merchants))
        and (currency is None or r.currency == currency)
    ]


def exact_round(numerator: Decimal | int, denominator: Decimal | int, places: int) -> Decimal:
    """numerator / denominator, rounded half away from zero (the division itself is exact here)."""
    with localcontext() as ctx:
        ctx.prec = 80
        quotient = Decimal(numerator) / Decimal(denominator)
        return quotient.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def median_of(amounts: list[Decimal]) -> Decimal:
    cents = sorted(int(a * 100) for a in amounts)
    middle = len(cents) // 2
    if len(cents) % 2:
        return Decimal(cents[middle]) / 100
    return exact_round(cents[middle - 1] + cents[middle], 200, 2)


def figures(rows: list[Row]) -> dict:
    purchases = [r.amount for r in rows if r.kind == "purchase"]
    return {
        "total_spend": sum((r.amount for r in rows), Decimal("0.00")),
        "transaction_count": len(purchases),
        "average_transaction": (
            exact_round(sum(purchases), len(purchases), 2) if purchases else Decimal("0.00")
        ),
        "median_transaction": median_of(purchases) if purchases else Decimal("0.00"),
        "active_customers": len({r.customer_id for r in rows if r.kind == "purchase"}),
    }


def ratio(part, whole) -> float | None:
    return None if whole == 0 else float(exact_round(part, whole, 4))


def spend_by(rows: list[Row], key) -> dict:
    totals: dict = defaultdict(lambda: [Decimal("0.00"), 0])
    for r in rows:
        totals[key(r)][0] += r.amount
        totals[key(r)][1] += r.kind == "purchase"
    return totals


def money(value: Decimal) -> str:
    assert value == value.quantize(Decimal("0.01")), value  # the reference is in whole cents
    return f"{value:.2f}"


def as_json(expected: dict) -> dict:
    return {k: money(v) if isinstance(v, Decimal) else v for k, v in expected.items()}


def assert_summary_matches(body: dict, current: list[Row], previous: list[Row]) -> None:
    now, before = figures(current), figures(previous)
    assert {k: body[k] for k in FIGURES} == as_json(now)
    assert body["previous"] == as_json(before)
    assert body["change"] == {k: ratio(now[k] - before[k], before[k]) for k in FIGURES}
    by_category = spend_by(current, lambda r: r.category)
    ranked = sorted(by_category.items(), key=lambda kv: (-kv[1][0], kv[0]))[:5]
    assert body["top_categories"] == [
        {
            "category": category,
            "total_spend": money(total),
            "share": ratio(total, now["total_spend"]) or 0.0,
        }
        for category, (total, _) in ranked
    ]


@pytest.fixture
def acme_filter(acme_rows) -> dict:
    """Two categories and two busy merchants of each (one in capitals: names ignore case)."""
    merchants = []
    for category in FILTER_CATEGORIES:
        counts = Counter(r.merchant for r in acme_rows if r.category == category)
        merchants += [name for name, _ in counts.most_common(3)[1:]]
    assert len(merchants) == 4
    return {
        "category": list(FILTER_CATEGORIES),
        "merchant": [merchants[0].upper(), *merchants[1:]],
    }


@pytest.fixture
def small_org(session):
    """A USD organisation of its own, with an analyst, a merchant and two customers."""
    org = create_org(session)
    return (
        org,
        headers_for(create_user(session, org, role="viewer")),
        create_merchant(session, org, name="Corner Shop"),
        create_customer(session, org, name="Ada"),
        create_customer(session, org, name="Bob"),
    )


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------


class TestSummary:
    def test_matches_independent_computation_for_filtered_quarter(
        self, client, auth_headers, acme_rows, acme_filter
    ):
        start, end = Q2_2026
        params = {"start_date": start, "end_date": end, **acme_filter}
        response = client.get(SUMMARY, params=params, headers=auth_headers("analyst@acme.example"))

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["period"] == {"start_date": "2026-04-01", "end_date": "2026-06-30"}
        assert body["previous_period"] == {"start_date": "2025-12-31", "end_date": "2026-03-31"}
        assert body["currency"] == "USD"
        selection = {"categories": FILTER_CATEGORIES, "merchants": acme_filter["merchant"]}
        current = select_rows(acme_rows, *Q2_2026, **selection)
        previous = select_rows(acme_rows, *Q2_PREVIOUS, **selection)
        assert figures(current)["transaction_count"] > 500  # the filter leaves a real sample
        assert len({r.category for r in current}) == 2
        assert_summary_matches(body, current, previous)

    def test_matches_independent_computation_for_unfiltered_quarter(
        self, client, auth_headers, acme_rows
    ):
        start, end = Q2_2026
        response = client.get(
            SUMMARY,
            params={"start_date": start, "end_date": end},
            headers=auth_headers("viewer@acme.example"),
        )

        assert response.status_code == 200, response.text
        current = select_rows(acme_rows, *Q2_2026)
        assert any(r.kind == "refund" for r in current)
        assert_summary_matches(response.json(), current, select_rows(acme_rows, *Q2_PREVIOUS))

    def test_refunds_subtract_from_total_but_are_not_purchases(self, client, session, small_org):
        org, headers, shop, ada, bob = small_org
        day = date(2026, 3, 10)
        create_transaction(session, org, ada, shop, occurred_at=at(day), amount="100.00")
        create_transaction(session, org, ada, shop, occurred_at=at(day), amount="50.00")
        create_transaction(
            session, org, bob, shop, occurred_at=at(day), amount="-30.00", kind="refund"
        )

        response = client.get(SUMMARY, params={"end_date": day}, headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        assert {k: body[k] for k in FIGURES} == {
            "total_spend": "120.00",
            "transaction_count": 2,
            "average_transaction": "75.00",
            "median_transaction": "75.00",
            "active_customers": 1,  # Bob only got money back
        }
        assert body["top_categories"] == [
            {"category": "Groceries", "total_spend": "120.00", "share": 1.0}
        ]

    def test_average_and_median_round_half_cents_away_from_zero(self, client, session, small_org):
        # (1.00 + 1.29) / 2 = 1.145 exactly; as a float of dollars it is 1.14499… and rounds down.
        org, headers, shop, ada, _ = small_org
        day = date(2026, 3, 10)
        for amount in ("1.00", "1.29"):
            create_transaction(session, org, ada, shop, occurred_at=at(day), amount=amount)

        body = client.get(SUMMARY, params={"end_date": day}, headers=headers).json()

        assert body["average_transaction"] == "1.15"
        assert body["median_transaction"] == "1.15"

    def test_median_of_odd_count_is_middle_purchase(self, client, session, small_org):
        org, headers, shop, ada, _ = small_org
        day = date(2026, 3, 10)
        for amount in ("5.00", "999.99", "7.31", "-500.00"):
            kind = "refund" if amount.startswith("-") else "purchase"
            create_transaction(
                session, org, ada, shop, occurred_at=at(day), amount=amount, kind=kind
            )

        body = client.get(SUMMARY, params={"end_date": day}, headers=headers).json()

        assert body["median_transaction"] == "7.31"
        assert body["average_transaction"] == "337.43"  # 1012.30 / 3 = 337.4333…
        assert body["total_spend"] == "512.30"

    def test_previous_period_and_change(self, client, session, small_org):
        org, headers, shop, ada, bob = small_org
        # Period 2026-03-01 .. 2026-03-31 (31 days) → previous 2026-01-29 .. 2026-02-28.
        create_transaction(session, org, ada, shop, occurred_at=at(date(2026, 1, 28)), amount=999)
        create_transaction(session, org, ada, shop, occurred_at=at(date(2026, 1, 29), 0), amount=40)
        create_transaction(
            session, org, ada, shop, occurred_at=at(date(2026, 2, 28), 23), amount=60
        )
        create_transaction(session, org, ada, shop, occurred_at=at(date(2026, 3, 1), 0), amount=30)
        create_transaction(
            session, org, bob, shop, occurred_at=at(date(2026, 3, 31), 23), amount=45
        )
        create_transaction(session, org, bob, shop, occurred_at=at(date(2026, 4, 1), 0), amount=999)

        response = client.get(
            SUMMARY, params={"start_date": "2026-03-01", "end_date": "2026-03-31"}, headers=headers
        )

        body = response.json()
        assert body["previous_period"] == {"start_date": "2026-01-29", "end_date": "2026-02-28"}
        assert body["previous"] == {
            "total_spend": "100.00",
            "transaction_count": 2,
            "average_transaction": "50.00",
            "median_transaction": "50.00",
            "active_customers": 1,
        }
        assert body["total_spend"] == "75.00"
        assert body["change"] == {
            "total_spend": -0.25,
            "transaction_count": 0.0,
            "average_transaction": -0.25,
            "median_transaction": -0.25,
            "active_customers": 1.0,
        }

    def test_empty_period_gives_zeros_and_no_change(self, client, small_org):
        _, headers, *_ = small_org

        response = client.get(SUMMARY, headers=headers)

        assert response.status_code == 200, response.text
        body = response.json()
        zeros = {
            "total_spend": "0.00",
            "transaction_count": 0,
            "average_transaction": "0.00",
            "median_transaction": "0.00",
            "active_customers": 0,
        }
        assert {k: body[k] for k in FIGURES} == zeros
        assert body["previous"] == zeros
        assert body["change"] == {k: None for k in FIGURES}
        assert body["top_categories"] == []

    def test_default_period_is_last_30_days_up_to_today(self, client, small_org):
        _, headers, *_ = small_org
        today = datetime.now(UTC).date()

        body = client.get(SUMMARY, headers=headers).json()

        assert body["period"] == {
            "start_date": str(today - timedelta(days=29)),
            "end_date": str(today),
        }
        assert body["previous_period"] == {
            "start_date": str(today - timedelta(days=59)),
            "end_date": str(today - timedelta(days=30)),
        }

    def test_only_an_end_date_makes_the_30_days_ending_there(self, client, small_org):
        _, headers, *_ = small_org

        body = client.get(SUMMARY, params={"end_date": "2026-03-02"}, headers=headers).json()

        assert body["period"] == {"start_date": "2026-02-01", "end_date": "2026-03-02"}

    def test_only_a_start_date_runs_up_to_today(self, client, small_org):
        _, headers, *_ = small_org

        body = client.get(SUMMARY, params={"start_date": "2026-02-01"}, headers=headers).json()

        assert body["period"] == {
            "start_date": "2026-02-01",
            "end_date": str(datetime.now(UTC).date()),
        }

    def test_sums_only_the_requested_currency(self, client, session, small_org):
        org, headers, shop, ada, _ = small_org
        day = date(2026, 3, 10)
        create_transaction(session, org, ada, shop, occurred_at=at(day), amount="10.00")
        create_transaction(
            session, org, ada, shop, occurred_at=at(day), amount="70.00", currency="EUR"
        )

        usd = client.get(SUMMARY, params={"end_date": day}, headers=headers).json()
        eur = client.get(
            SUMMARY, params={"end_date": day, "currency": "EUR"}, headers=headers
        ).json()

        assert (usd["currency"], usd["total_spend"], usd["transaction_count"]) == (
            "USD",
            "10.00",
            1,
        )
        assert (eur["currency"], eur["total_spend"], eur["transaction_count"]) == (
            "EUR",
            "70.00",
            1,
        )

    def test_globex_analyst_sees_only_globex_spending(
        self, client, auth_headers, globex_rows, demo
    ):
        assert demo.globex.base_currency == "EUR"
        response = client.get(
            SUMMARY,
            params={"start_date": "2026-04-01", "end_date": "2026-06-30"},
            headers=auth_headers("analyst@globex.example"),
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["currency"] == "EUR"
        current = select_rows(globex_rows, *Q2_2026)
        assert_summary_matches(body, current, select_rows(globex_rows, *Q2_PREVIOUS))

    def test_other_organisations_spending_never_counts(self, client, session, auth_headers, demo):
        params = {"start_date": "2026-04-01", "end_date": "2026-06-30"}
        headers = auth_headers("analyst@acme.example")
        before = client.get(SUMMARY, params=params, headers=headers).json()
        # A huge USD purchase at Globex, in Acme's currency and period, in a category Acme uses.
        customer = create_customer(session, demo.globex)
        create_transaction(
            session,
            demo.globex,
            customer,
            occurred_at=at(date(2026, 5, 5)),
            amount="1000000.00",
            currency="USD",
        )

        after = client.get(SUMMARY, params={**params, "org_id": demo.globex.id}, headers=headers)

        assert after.json() == before

    def test_anonymous_gets_401(self, client):
        response = client.get(SUMMARY)

        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"


class TestTimeseries:
    @pytest.mark.parametrize("interval", ["day", "week", "month"])
    def test_points_add_up_to_the_summary(self, client, auth_headers, acme_filter, interval):
        headers = auth_headers("viewer@acme.example")
        params = {"start_date": "2026-04-01", "end_date": "2026-06-30", **acme_filter}

        series = client.get(TIMESERIES, params={**params, "interval": interval}, headers=headers)
        summary = client.get(SUMMARY, params=params, headers=headers).json()

        assert series.status_code == 200, series.text
        points = series.json()["points"]
        total = sum(Decimal(p["total_spend"]) for p in points)
        assert money(total) == summary["total_spend"]
        assert sum(p["transaction_count"] for p in points) == summary["transaction_count"]
        assert {"day": 91, "week": 14, "month": 3}[interval] == len(points)

    def test_monthly_points_match_independent_computation(
        self, client, auth_headers, acme_rows, acme_filter
    ):
        response = client.get(
            TIMESERIES,
            params={"start_date": "2025-07-01", "end_date": "2026-06-30", **acme_filter},
            headers=auth_headers("analyst@acme.example"),
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert body["interval"] == "month"
        assert body["currency"] == "USD"
        assert body["period"] == {"start_date": "2025-07-01", "end_date": "2026-06-30"}
        rows = select_rows(
            acme_rows,
            date(2025, 7, 1),
            date(2026, 6, 30),
            categories=FILTER_CATEGORIES,
            merchants=acme_filter["merchant"],
        )
        by_month = defaultdict(list)
        for r in rows:
            by_month[r.day.replace(day=1)].append(r)
        expected = []
        for month_start in sorted(by_month):
            month = figures(by_month[month_start])
            expected.append(
                {
                    "period_start": str(month_start),
                    "total_spend": money(month["total_spend"]),
                    "transaction_count": month["transaction_count"],
                    "active_customers": month["active_customers"],
                    "days": calendar.monthrange(month_start.year, month_start.month)[1],
                    "partial": False,
                }
            )
        assert len(expected) == 12
        assert body["points"] == expected

    def test_weeks_start_on_monday_and_leave_no_gaps(self, client, auth_headers):
        response = client.get(
            TIMESERIES,
            params={"start_date": "2026-04-01", "end_date": "2026-06-30", "interval": "week"},
            headers=auth_headers("viewer@acme.example"),
        )

        starts = [date.fromisoformat(p["period_start"]) for p in response.json()["points"]]
        assert starts[0] == date(2026, 3, 30)  # the Monday of the week holding 1 April
        assert starts[-1] == date(2026, 6, 29)
        assert all(d.weekday() == 0 for d in starts)
        assert all(b - a == timedelta(days=7) for a, b in zip(starts, starts[1:]))

    def test_partial_first_and_last_buckets_say_how_many_days_they_hold(self, client, auth_headers):
        """A range from mid-month to mid-month cuts the first and last months (and weeks): their
        points say so, so a chart need not show them as dips."""
        headers = auth_headers("viewer@acme.example")
        params = {"start_date": "2026-01-20", "end_date": "2026-04-10"}

        months = client.get(TIMESERIES, params={**params, "interval": "month"}, headers=headers)
        assert months.status_code == 200, months.text
        assert [(p["period_start"], p["days"], p["partial"]) for p in months.json()["points"]] == [
            ("2026-01-01", 12, True),  # 20–31 January
            ("2026-02-01", 28, False),
            ("2026-03-01", 31, False),
            ("2026-04-01", 10, True),  # 1–10 April
        ]
        weeks = client.get(TIMESERIES, params={**params, "interval": "week"}, headers=headers)
        points = weeks.json()["points"]
        # 2026-01-20 is a Tuesday: its week (from Monday 19) holds 6 days of the range;
        # 2026-04-10 is a Friday: its week (from Monday 6 April) holds 5.
        assert (points[0]["period_start"], points[0]["days"], points[0]["partial"]) == (
            "2026-01-19",
            6,
            True,
        )
        assert (points[-1]["period_start"], points[-1]["days"], points[-1]["partial"]) == (
            "2026-04-06",
            5,
            True,
        )
        assert all(p["days"] == 7 and not p["partial"] for p in points[1:-1])
        days = client.get(TIMESERIES, params={**params, "interval": "day"}, headers=headers)
        assert {(p["days"], p["partial"]) for p in days.json()["points"]} == {(1, False)}

    def test_months_without_spending_are_zero_points(self, client, session, small_org):
        org, headers, shop, ada, bob = small_org
        create_transaction(session, org, ada, shop, occurred_at=at(date(2025, 1, 10)), amount=20)
        create_transaction(session, org, bob, shop, occurred_at=at(date(2025, 1, 31), 23), amount=5)
        create_transaction(
            session, org, bob, shop, occurred_at=at(date(2025, 11, 30), 23), amount="7.50"
        )

        response = client.get(
            TIMESERIES,
            params={"start_date": "2025-01-01", "end_date": "2025-11-30"},
            headers=headers,
        )

        assert response.status_code == 200, response.text
        points = response.json()["points"]
        assert [p["period_start"] for p in points] == [f"2025-{m:02d}-01" for m in range(1, 12)]
        assert points[0] == {
            "period_start": "2025-01-01",
            "total_spend": "25.00",
            "transaction_count": 2,
            "active_customers": 2,
            "days": 31,
            "partial": False,
        }
        assert points[-1] == {
            "period_start": "2025-11-01",
            "total_spend": "7.50",
            "transaction_count": 1,
            "active_customers": 1,
            "days": 30,
            "partial": False,
        }
        zero = {"total_spend": "0.00", "transaction_count": 0, "active_customers": 0}
        assert all({k: p[k] for k in zero} == zero for p in points[1:-1])

    def test_buckets_are_utc_days_whatever_the_session_time_zone(self, client, session, small_org):
        org, headers, shop, ada, _ = small_org
        session.execute(text("SET TIME ZONE 'Pacific/Auckland'"))
        berlin_1am = datetime(2025, 4, 1, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 23:00 UTC
        create_transaction(session, org, ada, shop, occurred_at=berlin_1am, amount=11)
        create_transaction(session, org, ada, shop, occurred_at=at(date(2025, 4, 1), 0), amount=22)

        points = client.get(
            TIMESERIES,
            params={"start_date": "2025-03-31", "end_date": "2025-04-01", "interval": "day"},
            headers=headers,
        ).json()["points"]

        assert [(p["period_start"], p["total_spend"]) for p in points] == [
            ("2025-03-31", "11.00"),
            ("2025-04-01", "22.00"),
        ]

    def test_default_period_is_twelve_calendar_months_to_today(self, client, small_org):
        _, headers, *_ = small_org
        today = datetime.now(UTC).date()

        body = client.get(TIMESERIES, headers=headers).json()

        month_index = today.year * 12 + today.month - 1 - 11
        first = date(month_index // 12, month_index % 12 + 1, 1)
        assert body["period"] == {"start_date": str(first), "end_date": str(today)}
        assert len(body["points"]) == 12
        assert body["points"][0]["period_start"] == str(first)

    def test_day_series_over_3660_points_is_refused(self, client, small_org):
        _, headers, *_ = small_org
        params = {"start_date": "2016-01-01", "interval": "day"}

        ok = client.get(TIMESERIES, params={**params, "end_date": "2026-01-07"}, headers=headers)
        too_long = client.get(
            TIMESERIES, params={**params, "end_date": "2026-01-08"}, headers=headers
        )

        assert ok.status_code == 200
        assert len(ok.json()["points"]) == 3660
        assert too_long.status_code == 422
        assert too_long.json()["error"] == "ValidationError"

    def test_anonymous_gets_401(self, client):
        assert client.get(TIMESERIES).status_code == 401


class TestBreakdown:
    @pytest.mark.parametrize("by", ["category", "merchant", "customer"])
    def test_matches_independent_computation(self, client, auth_headers, acme_rows, by):
        start, end = date(2026, 5, 1), date(2026, 6, 30)
        response = client.get(
            BREAKDOWN,
            params={"by": by, "top": 5, "start_date": start, "end_date": end},
            headers=auth_headers("analyst@acme.example"),
        )

        assert response.status_code == 200, response.text
        body = response.json()
        rows = select_rows(acme_rows, start, end)
        key_and_label = {
            "category": lambda r: (r.category, r.category),
            "merchant": lambda r: (
                (str(r.merchant_id), r.merchant) if r.merchant_id else (None, "(no merchant)")
            ),
            "customer": lambda r: (str(r.customer_id), r.customer_name),
        }[by]
        groups = spend_by(rows, key_and_label)

        def rank(group):  # total spend descending, then label, then id
            (key, label), (spend, _) = group
            return (-spend, label, key if by == "category" else int(key or 0))

        ranked = sorted(groups.items(), key=rank)
        total = figures(rows)["total_spend"]
        rest = ranked[5:]
        rest_total = sum((t for _, (t, _) in rest), Decimal("0.00"))
        assert body["by"] == by
        assert body["period"] == {"start_date": str(start), "end_date": str(end)}
        assert body["total_spend"] == money(total)
        assert body["items"] == [
            {
                "key": key,
                "label": label,
                "total_spend": money(spend),
                "transaction_count": count,
                "share": ratio(spend, total),
            }
            for (key, label), (spend, count) in ranked[:5]
        ]
        assert body["other"] == {
            "label": "Other",
            "total_spend": money(rest_total),
            "transaction_count": sum(c for _, (_, c) in rest),
            "share": ratio(rest_total, total),
            "count": len(rest),
        }

    @pytest.mark.parametrize("by", ["category", "merchant", "customer"])
    def test_top_and_other_add_up_to_the_summary_total(self, client, auth_headers, acme_filter, by):
        headers = auth_headers("viewer@acme.example")
        params = {"start_date": "2026-01-01", "end_date": "2026-06-30", **acme_filter}

        body = client.get(BREAKDOWN, params={**params, "by": by, "top": 1}, headers=headers).json()
        summary = client.get(SUMMARY, params=params, headers=headers).json()

        assert len(body["items"]) == 1
        assert body["other"]["count"] >= 1
        spends = [Decimal(i["total_spend"]) for i in body["items"]]
        assert money(sum(spends) + Decimal(body["other"]["total_spend"])) == summary["total_spend"]
        assert body["total_spend"] == summary["total_spend"]
        counts = sum(i["transaction_count"] for i in body["items"])
        assert counts + body["other"]["transaction_count"] == summary["transaction_count"]

    def test_default_is_top_10_categories_of_last_30_days(self, client, session, small_org):
        org, headers, shop, ada, _ = small_org
        today = datetime.now(UTC).date()
        for n in range(12):
            create_transaction(
                session, org, ada, shop, occurred_at=at(today), amount=100 - n, category=f"C{n:02d}"
            )
        create_transaction(
            session, org, ada, shop, occurred_at=at(today - timedelta(days=30)), amount=1000
        )

        body = client.get(BREAKDOWN, headers=headers).json()

        assert body["by"] == "category"
        assert body["period"]["start_date"] == str(today - timedelta(days=29))
        assert [i["key"] for i in body["items"]] == [f"C{n:02d}" for n in range(10)]
        assert body["other"] == {
            "label": "Other",
            "total_spend": "179.00",
            "transaction_count": 2,
            "share": 0.1578,  # 179 / 1134 = 0.15784…
            "count": 2,
        }

    def test_ties_are_ordered_by_label_and_nothing_left_gives_a_zero_other_row(
        self, client, session, small_org
    ):
        org, headers, shop, ada, bob = small_org
        day = date(2026, 3, 10)
        create_transaction(session, org, bob, shop, occurred_at=at(day), amount=10)
        create_transaction(session, org, ada, shop, occurred_at=at(day), amount=10)

        body = client.get(
            BREAKDOWN, params={"by": "customer", "end_date": day}, headers=headers
        ).json()

        assert [(i["key"], i["label"], i["share"]) for i in body["items"]] == [
            (str(ada.id), "Ada", 0.5),
            (str(bob.id), "Bob", 0.5),
        ]
        assert body["other"] == {
            "label": "Other",
            "total_spend": "0.00",
            "transaction_count": 0,
            "share": 0.0,
            "count": 0,
        }

    def test_transactions_without_merchant_have_their_own_row(self, client, session, small_org):
        org, headers, shop, ada, _ = small_org
        day = date(2026, 3, 10)
        create_transaction(session, org, ada, None, occurred_at=at(day), amount="12.50")
        create_transaction(session, org, ada, shop, occurred_at=at(day), amount="40.00")
        create_transaction(
            session, org, ada, shop, occurred_at=at(day), amount="-15.00", kind="refund"
        )

        body = client.get(
            BREAKDOWN, params={"by": "merchant", "end_date": day}, headers=headers
        ).json()

        assert body["total_spend"] == "37.50"
        assert body["items"] == [
            {
                "key": str(shop.id),
                "label": "Corner Shop",
                "total_spend": "25.00",
                "transaction_count": 1,
                "share": 0.6667,
            },
            {
                "key": None,
                "label": "(no merchant)",
                "total_spend": "12.50",
                "transaction_count": 1,
                "share": 0.3333,
            },
        ]

    def test_globex_rows_never_appear_for_acme(self, client, auth_headers, demo, session):
        customer = create_customer(session, demo.globex, name="Globex Only")
        create_transaction(
            session,
            demo.globex,
            customer,
            occurred_at=at(date(2026, 6, 1)),
            amount=10**6,
            currency="USD",
        )

        body = client.get(
            BREAKDOWN,
            params={
                "by": "customer",
                "top": 100,
                "start_date": "2026-06-01",
                "end_date": "2026-06-30",
            },
            headers=auth_headers("analyst@acme.example"),
        ).json()

        assert str(customer.id) not in {i["key"] for i in body["items"]}
        assert all(i["label"] != "Globex Only" for i in body["items"])

    def test_anonymous_gets_401(self, client):
        assert client.get(BREAKDOWN).status_code == 401


class TestBadInput:
    @pytest.mark.parametrize(
        "path, params",
        [
            (SUMMARY, {"start_date": "2026-06-30", "end_date": "2026-06-01"}),
            (SUMMARY, {"start_date": "2026-13-01"}),
            (SUMMARY, {"end_date": "yesterday"}),
            (SUMMARY, {"currency": "usd"}),
            (SUMMARY, {"currency": "EURO"}),
            (SUMMARY, {"end_date": "9999-12-31"}),
            (SUMMARY, {"start_date": "0001-01-01"}),
            (TIMESERIES, {"interval": "hour"}),
            (TIMESERIES, {"start_date": "2026-06-30", "end_date": "2026-06-01"}),
            (TIMESERIES, {"end_date": "9999-12-31"}),
            (BREAKDOWN, {"by": "country"}),
            (BREAKDOWN, {"top": 0}),
            (BREAKDOWN, {"top": 101}),
            (BREAKDOWN, {"top": "ten"}),
        ],
    )
    def test_gets_422_json_error(self, client, auth_headers, path, params):
        response = client.get(path, params=params, headers=auth_headers("viewer@acme.example"))

        assert response.status_code == 422, response.text
        body = response.json()
        assert body["error"] == "ValidationError"
        assert isinstance(body["detail"], list) and body["detail"]
        assert all({"loc", "msg"} <= set(item) for item in body["detail"])
