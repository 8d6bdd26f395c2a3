"""The reference for RFM and cohorts: transactions read with a plain SELECT, every figure computed
with nothing but Python, and the segment grid written out again by hand from the documentation,
so nothing here reuses the SQL or the definitions module under test."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

# The documented grid, rows R = 5 .. 1, columns FM = 1 .. 5.
_GRID_TEXT = """
5: new               potential_loyalist potential_loyalist champions      champions
4: promising         potential_loyalist potential_loyalist loyal          loyal
3: hibernating       hibernating        need_attention     loyal          loyal
2: hibernating       hibernating        at_risk            at_risk        cant_lose_them
1: lost              lost               at_risk            at_risk        cant_lose_them
"""
GRID = {
    int(line.split(":")[0]): dict(enumerate(line.split(":")[1].split(), start=1))
    for line in _GRID_TEXT.strip().splitlines()
}
SEGMENT_ORDER = [
    "champions",
    "loyal",
    "potential_loyalist",
    "new",
    "promising",
    "need_attention",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lost",
]


@dataclass(frozen=True)
class Txn:
    customer_id: int
    occurred_at: datetime
    amount: Decimal
    kind: str
    currency: str


@dataclass(frozen=True)
class Org:
    id: int
    currency: str
    transactions: list[Txn]


def read_org(conn, org_id: int) -> Org:
    currency = conn.execute(
        text("SELECT base_currency FROM organizations WHERE id = :id"), {"id": org_id}
    ).scalar_one()
    rows = conn.execute(
        text(
            "SELECT customer_id, occurred_at, amount, kind, currency "
            "FROM transactions WHERE org_id = :id"
        ),
        {"id": org_id},
    ).all()
    return Org(org_id, currency, [Txn(*row) for row in rows])


def read_org_by_slug(conn, slug: str) -> Org:
    org_id = conn.execute(
        text("SELECT id FROM organizations WHERE slug = :slug"), {"slug": slug}
    ).scalar_one()
    return read_org(conn, org_id)


@dataclass(frozen=True)
class Rfm:
    recency_days: int
    frequency: int
    monetary: Decimal
    r_score: int
    f_score: int
    m_score: int
    segment: str


def _utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def _quantile_scores(values: dict[int, object], *, higher_is_better: bool) -> dict[int, int]:
    """⌈5 k / n⌉ with k = how many values are at most this one (at least, for recency)."""
    n = len(values)
    scores = {}
    for customer, value in values.items():
        if higher_is_better:
            k = sum(1 for other in values.values() if other <= value)
        else:
            k = sum(1 for other in values.values() if other >= value)
        scores[customer] = _ceil_div(5 * k, n)
    return scores


def _fast_quantile_scores(values: dict[int, object], *, higher_is_better: bool) -> dict[int, int]:
    """The same as _quantile_scores, counting with a sorted list (the demo has 2,000 customers)."""
    import bisect

    ordered = sorted(values.values())
    n = len(ordered)
    scores = {}
    for customer, value in values.items():
        if higher_is_better:
            k = bisect.bisect_right(ordered, value)
        else:
            k = n - bisect.bisect_left(ordered, value)
        scores[customer] = _ceil_div(5 * k, n)
    return scores


def _cut_scores(values: dict[int, object], cuts: list, *, higher_is_better: bool) -> dict[int, int]:
    scores = {}
    for customer, value in values.items():
        below = sum(1 for cut in cuts if value > cut)  # cut points strictly below the value
        scores[customer] = 1 + below if higher_is_better else 5 - below
    return scores


def rfm(
    org: Org,
    as_of: date,
    *,
    recency_cuts: list | None = None,
    frequency_cuts: list | None = None,
    monetary_cuts: list | None = None,
) -> dict[int, Rfm]:
    purchases: dict[int, int] = defaultdict(int)
    spend: dict[int, Decimal] = defaultdict(lambda: Decimal("0.00"))
    last: dict[int, date] = {}
    for t in org.transactions:
        if t.currency != org.currency or _utc_day(t.occurred_at) > as_of:
            continue
        spend[t.customer_id] += t.amount
        if t.kind == "purchase":
            purchases[t.customer_id] += 1
            day = _utc_day(t.occurred_at)
            last[t.customer_id] = max(day, last.get(t.customer_id, day))
    customers = [c for c in spend if purchases[c] > 0]
    recency = {c: (as_of - last[c]).days for c in customers}
    frequency = {c: purchases[c] for c in customers}
    monetary = {c: spend[c] for c in customers}
    quantiles = _fast_quantile_scores if len(customers) > 200 else _quantile_scores

    def scores(values, cuts, higher_is_better):
        if cuts is None:
            return quantiles(values, higher_is_better=higher_is_better)
        return _cut_scores(values, cuts, higher_is_better=higher_is_better)

    r = scores(recency, recency_cuts, False)
    f = scores(frequency, frequency_cuts, True)
    m = scores(monetary, monetary_cuts, True)
    result = {}
    for c in customers:
        fm = (f[c] + m[c]) / 2
        fm_rounded = int(fm) + (1 if fm - int(fm) >= 0.5 else 0)
        result[c] = Rfm(
            recency[c], frequency[c], monetary[c], r[c], f[c], m[c], GRID[r[c]][fm_rounded]
        )
    return result


# --- cohorts ------------------------------------------------------------------------------------


def period_start(day: date, period: str) -> date:
    if period == "week":
        return day - timedelta(days=day.weekday())
    if period == "month":
        return day.replace(day=1)
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def next_period(start: date, period: str) -> date:
    if period == "week":
        return start + timedelta(days=7)
    months = 1 if period == "month" else 3
    month = start.month - 1 + months
    return date(start.year + month // 12, month % 12 + 1, 1)


@dataclass
class CohortRef:
    size: int
    first_revenue: Decimal
    cells: list[tuple[date, int, Decimal]]  # (period start, active customers, revenue)


def cohorts(org: Org, period: str, first: date, last: date, as_of: date) -> dict[date, CohortRef]:
    seen = [
        t
        for t in org.transactions
        if t.currency == org.currency and _utc_day(t.occurred_at) <= as_of
    ]
    first_purchase: dict[int, date] = {}
    for t in seen:
        if t.kind == "purchase":
            day = _utc_day(t.occurred_at)
            first_purchase[t.customer_id] = min(day, first_purchase.get(t.customer_id, day))
    cohort_of = {c: period_start(d, period) for c, d in first_purchase.items()}
    active: dict[tuple[date, date], set[int]] = defaultdict(set)
    revenue: dict[tuple[date, date], Decimal] = defaultdict(lambda: Decimal("0.00"))
    for t in seen:
        cohort = cohort_of.get(t.customer_id)
        if cohort is None:
            continue
        p = period_start(_utc_day(t.occurred_at), period)
        if p < cohort:
            continue
        revenue[cohort, p] += t.amount
        if t.kind == "purchase":
            active[cohort, p].add(t.customer_id)
    result = {}
    cohort = first
    final = period_start(as_of, period)
    while cohort <= last:
        size = sum(1 for c in cohort_of.values() if c == cohort)
        cells = []
        p = cohort
        while p <= final:
            cells.append((p, len(active[cohort, p]), revenue[cohort, p]))
            p = next_period(p, period)
        result[cohort] = CohortRef(size, revenue[cohort, cohort], cells)
        cohort = next_period(cohort, period)
    return result
