"""SQL of RFM segmentation, always within one organisation.

The heavy part is one aggregate over the organisation's transactions up to a day, grouped by
customer (a parallel scan of the transactions, or of the covering index on (org_id, occurred_at),
whichever the planner prices lower). Everything after it — the quantile windows, the cut points,
the segment grid — runs on the per-customer result, one row per customer. Storing a snapshot first
materialises that aggregate with CREATE TEMPORARY TABLE … AS (PostgreSQL runs INSERT … SELECT
without parallel workers, CREATE TABLE AS with them), then scores it into rfm_scores.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Connection,
    Date,
    Row,
    Integer,
    Select,
    String,
    and_,
    case,
    cast,
    column,
    delete,
    func,
    insert,
    literal,
    select,
    table,
    text,
    type_coerce,
    update,
    values,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement, FromClause, Subquery

from spendlens.metrics.definitions import TOTAL_SPEND, TRANSACTION_COUNT
from spendlens.models import (
    Customer,
    Organization,
    RfmScore,
    RfmSettings,
    RfmSnapshot,
    Transaction,
)
from spendlens.models.rules import is_purchase
from spendlens.segments.definitions import grid_rows
from spendlens.segments.schemas import RfmSort
from spendlens.transactions.filters import day_start

transactions = Transaction.__table__
scores_table = RfmScore.__table__
Executor = Session | Connection

# Hashing ~100,000 customers per parallel worker wants more than the default 4 MB; a spill to
# disk doubles the aggregate's time.
AGGREGATE_WORK_MEM = "128MB"
# Advisory-lock namespace for "writing an RFM snapshot of org N" (second key: the org id).
_SNAPSHOT_LOCK_CLASS = 0x5F3A


@dataclass(frozen=True)
class Cuts:
    """Cut points per dimension (None: by quantile), and the settings version they come from."""

    version: int = 0
    recency: tuple[int, ...] | None = None
    frequency: tuple[int, ...] | None = None
    monetary: tuple[Decimal, ...] | None = None


RFM_COLUMNS = (
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "segment",
)


# --- computing ----------------------------------------------------------------------------------


def customer_aggregates(org_id: int, currency: str, as_of: date) -> Select:
    """Recency (days), frequency and monetary per customer with a purchase up to `as_of`.

    Transactions in `currency` only, with the /metrics definitions of spend and purchases.
    """
    t = transactions.c
    last_purchase = func.max(t.occurred_at).filter(is_purchase(t))
    last_day = cast(func.timezone("UTC", last_purchase), Date)
    return (
        select(
            t.customer_id,
            type_coerce(literal(as_of, Date) - last_day, Integer).label("recency_days"),
            TRANSACTION_COUNT.sql(t).label("frequency"),
            TOTAL_SPEND.sql(t).label("monetary"),
        )
        .where(
            t.org_id == org_id,
            t.currency == currency,
            t.occurred_at < day_start(as_of + timedelta(days=1)),
        )
        .group_by(t.customer_id)
        .having(TRANSACTION_COUNT.sql(t) > 0)
    )


def _quantile_score(order: ColumnElement) -> ColumnElement:
    """⌈5 k / n⌉ in integers: k = rows whose value sorts at or before this one (peers included,
    the window's default RANGE frame), n = all rows. Ties share k, hence the score."""
    k = func.count().over(order_by=order)
    n = func.count().over()
    return (5 * k + n - 1) // n


def _cut_score(value: ColumnElement, cuts: Sequence, *, reverse: bool) -> ColumnElement:
    """1 up to and including the first cut, …, 5 above the last (5 … 1 when `reverse`)."""
    whens = [(value <= cut, 5 - i if reverse else 1 + i) for i, cut in enumerate(cuts)]
    return case(*whens, else_=1 if reverse else 5)


def scored(aggregates: FromClause, as_of: date, cuts: Cuts) -> Select:
    """RFM_COLUMNS for every row of `aggregates` (customer_id, recency_days, frequency,
    monetary): scores by quantile or cut points, and the segment from the grid."""
    a = aggregates.c
    r_score = (
        _quantile_score(a.recency_days.desc())
        if cuts.recency is None
        else _cut_score(a.recency_days, cuts.recency, reverse=True)
    )
    f_score = (
        _quantile_score(a.frequency.asc())
        if cuts.frequency is None
        else _cut_score(a.frequency, cuts.frequency, reverse=False)
    )
    m_score = (
        _quantile_score(a.monetary.asc())
        if cuts.monetary is None
        else _cut_score(a.monetary, cuts.monetary, reverse=False)
    )
    with_scores = select(
        a.customer_id,
        a.recency_days,
        a.frequency,
        a.monetary,
        r_score.label("r_score"),
        f_score.label("f_score"),
        m_score.label("m_score"),
    ).subquery("scored")
    s = with_scores.c
    grid = values(
        column("r", Integer), column("fm", Integer), column("segment", String), name="grid"
    ).data(grid_rows())
    fm = (s.f_score + s.m_score + 1) // 2
    return select(
        s.customer_id,
        s.recency_days,
        s.frequency,
        s.monetary,
        s.r_score,
        s.f_score,
        s.m_score,
        grid.c.segment,
    ).join_from(with_scores, grid, and_(grid.c.r == s.r_score, grid.c.fm == fm))


def computed_rows(org_id: int, currency: str, as_of: date, cuts: Cuts) -> Select:
    """RFM_COLUMNS as of `as_of`, computed now from the transactions (nothing stored)."""
    return scored(customer_aggregates(org_id, currency, as_of).subquery("aggregates"), as_of, cuts)


def stored_rows(org_id: int, as_of: date) -> Select:
    """RFM_COLUMNS of the stored snapshot of `as_of`."""
    return select(*(scores_table.c[name] for name in RFM_COLUMNS)).where(
        scores_table.c.org_id == org_id, scores_table.c.as_of == as_of
    )


def set_aggregate_work_mem(db: Executor) -> None:
    db.execute(text(f"SET LOCAL work_mem = '{AGGREGATE_WORK_MEM}'"))


def prefer_streamed_aggregates(db: Executor) -> None:
    """For the rest of the transaction, group without hash tables: the per-customer aggregate
    then streams out of the covering customer index in customer order (see store_snapshot);
    the other groupings of an RFM answer are over ~100,000 scored rows at most."""
    db.execute(text("SET LOCAL enable_hashagg = off"))


def store_snapshot(
    conn: Connection,
    org_id: int,
    currency: str,
    as_of: date,
    cuts: Cuts,
    *,
    job_id: int | None = None,
) -> int:
    """Compute and store the snapshot of `as_of` in the caller's transaction, replacing the one
    stored for that day; returns the number of customers scored. Writers of one organisation's
    snapshots take turns (an advisory lock held until the transaction ends)."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, CAST(:org_id % 2147483647 AS integer))"),
        {"lock_class": _SNAPSHOT_LOCK_CLASS, "org_id": org_id},
    )
    set_aggregate_work_mem(conn)
    conn.execute(delete(RfmScore).where(RfmScore.org_id == org_id, RfmScore.as_of == as_of))
    conn.execute(
        delete(RfmSnapshot).where(RfmSnapshot.org_id == org_id, RfmSnapshot.as_of == as_of)
    )
    conn.execute(
        insert(RfmSnapshot).values(
            org_id=org_id,
            as_of=as_of,
            settings_version=cuts.version,
            customers=0,
            job_id=job_id,
            computed_at=func.clock_timestamp(),
        )
    )
    temporary = f"rfm_aggregates_{uuid.uuid4().hex[:12]}"
    aggregates = customer_aggregates(org_id, currency, as_of).compile(conn)
    # Grouping by customer without a hash table: the covering customer index hands the rows over
    # in customer order, each process aggregating its share as a stream (3× faster at 10M rows
    # than the hash aggregate the planner otherwise prefers over a whole-table scan).
    conn.exec_driver_sql("SET LOCAL enable_hashagg = off")
    conn.exec_driver_sql(
        f"CREATE TEMPORARY TABLE {temporary} ON COMMIT DROP AS {aggregates}", aggregates.params
    )
    conn.exec_driver_sql("SET LOCAL enable_hashagg TO DEFAULT")
    source = table(
        temporary,
        column("customer_id", Integer),
        column("recency_days", Integer),
        column("frequency", Integer),
        column("monetary", RfmScore.__table__.c.monetary.type),
    )
    rows = scored(source, as_of, cuts).subquery("rows")
    result = conn.execute(
        insert(RfmScore).from_select(
            ["org_id", "as_of", "settings_version", *RFM_COLUMNS],
            select(
                literal(org_id),
                literal(as_of, Date),
                literal(cuts.version),
                *(rows.c[name] for name in RFM_COLUMNS),
            )
            # In key order: appends to the primary key's last page, and walks the customers'
            # primary key in order for the foreign-key checks (0.6 s less per 100,000 rows).
            .order_by(rows.c.customer_id),
        )
    )
    conn.exec_driver_sql(f"DROP TABLE {temporary}")
    customers = result.rowcount
    conn.execute(
        update(RfmSnapshot)
        .where(RfmSnapshot.org_id == org_id, RfmSnapshot.as_of == as_of)
        .values(customers=customers)
    )
    return customers


# --- reading ------------------------------------------------------------------------------------


def get_snapshot(db: Executor, org_id: int, as_of: date) -> RfmSnapshot | None:
    query = select(RfmSnapshot).where(RfmSnapshot.org_id == org_id, RfmSnapshot.as_of == as_of)
    return db.execute(query).scalar_one_or_none()


def latest_snapshot(db: Executor, org_id: int) -> RfmSnapshot | None:
    query = (
        select(RfmSnapshot)
        .where(RfmSnapshot.org_id == org_id)
        .order_by(RfmSnapshot.as_of.desc())
        .limit(1)
    )
    return db.execute(query).scalar_one_or_none()


def list_snapshots(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[RfmSnapshot], int]:
    scope = RfmSnapshot.org_id == org_id
    total = session.execute(select(func.count()).select_from(RfmSnapshot).where(scope)).scalar_one()
    items = session.execute(
        select(RfmSnapshot)
        .where(scope)
        .order_by(RfmSnapshot.as_of.desc())
        .offset(skip)
        .limit(limit)
    ).scalars()
    return list(items), total


def segment_summary(session: Session, rows: Select) -> list[dict[str, Any]]:
    """Customers, revenue and averages per segment of `rows` (only segments with customers)."""
    r = rows.subquery("rfm").c

    def mean(value: ColumnElement) -> ColumnElement:
        return func.round(func.avg(value), 2)

    query = select(
        r.segment,
        func.count().label("customers"),
        func.sum(r.monetary).label("revenue"),
        mean(r.recency_days).label("average_recency_days"),
        mean(r.frequency).label("average_frequency"),
        mean(r.monetary).label("average_monetary"),
        mean(r.r_score).label("average_r_score"),
        mean(r.f_score).label("average_f_score"),
        mean(r.m_score).label("average_m_score"),
    ).group_by(r.segment)
    return [dict(row) for row in session.execute(query).mappings()]


def grid_counts(session: Session, rows: Select) -> list[dict[str, Any]]:
    """Customers and revenue per (R score, F score, segment) of `rows`; only groups with
    customers (a cell of the R × F grid holds several segments: M varies within it)."""
    r = rows.subquery("rfm").c
    query = select(
        r.r_score,
        r.f_score,
        r.segment,
        func.count().label("customers"),
        func.sum(r.monetary).label("revenue"),
    ).group_by(r.r_score, r.f_score, r.segment)
    return [dict(row) for row in session.execute(query).mappings()]


def movement(session: Session, before: Select, after: Select) -> list[dict[str, Any]]:
    """Customers per (segment before, segment after); null where a side has no RFM."""
    before_rows, after_rows = before.subquery("before"), after.subquery("after")
    a, b = before_rows.c, after_rows.c
    joined = before_rows.join(after_rows, a.customer_id == b.customer_id, full=True)
    query = select(
        a.segment.label("from_segment"), b.segment.label("to_segment"), func.count().label("n")
    ).select_from(joined)
    query = query.group_by(a.segment, b.segment)
    return [dict(row) for row in session.execute(query).mappings()]


@dataclass(frozen=True)
class RfmFilters:
    segments: tuple[str, ...] = ()
    r_scores: tuple[int, ...] = ()
    f_scores: tuple[int, ...] = ()
    m_scores: tuple[int, ...] = ()


def _order_by(sort: RfmSort, r: Any) -> tuple[ColumnElement, ...]:
    """ORDER BY for `sort`; ties broken by customer id in the same direction."""
    keys = {
        RfmSort.monetary_desc: (r.monetary.desc(), r.customer_id.desc()),
        RfmSort.monetary_asc: (r.monetary.asc(), r.customer_id.asc()),
        RfmSort.frequency_desc: (r.frequency.desc(), r.customer_id.desc()),
        RfmSort.frequency_asc: (r.frequency.asc(), r.customer_id.asc()),
        RfmSort.recency_asc: (r.recency_days.asc(), r.customer_id.asc()),
        RfmSort.recency_desc: (r.recency_days.desc(), r.customer_id.desc()),
        RfmSort.name_asc: (Customer.name.asc(), r.customer_id.asc()),
        RfmSort.name_desc: (Customer.name.desc(), r.customer_id.desc()),
    }
    return keys[sort]


def list_page(
    session: Session,
    org_id: int,
    rows: Select,
    filters: RfmFilters,
    *,
    sort: RfmSort,
    skip: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """A page of `rows` with each customer's profile, and how many rows match in all.

    The total rides along on every row (count(*) OVER ()), so RFM computed on the fly is
    computed once per page; only a page past the end needs a second query for it.
    """
    rfm = rows.subquery("rfm")
    r = rfm.c
    conditions: list[ColumnElement[bool]] = []
    if filters.segments:
        conditions.append(r.segment.in_(filters.segments))
    for score, wanted in (
        (r.r_score, filters.r_scores),
        (r.f_score, filters.f_scores),
        (r.m_score, filters.m_scores),
    ):
        if wanted:
            conditions.append(score.in_(wanted))
    joined = rfm.join(Customer, and_(Customer.org_id == org_id, Customer.id == r.customer_id))
    query = (
        select(
            *(r[name] for name in RFM_COLUMNS),
            Customer.external_id,
            Customer.name,
            Customer.email,
            func.count().over().label("total"),
        )
        .select_from(joined)
        .where(*conditions)
        .order_by(*_order_by(sort, r))
        .offset(skip)
        .limit(limit)
    )
    items = [dict(row) for row in session.execute(query).mappings()]
    if items:
        return items, items[0]["total"]
    count = select(func.count()).select_from(rfm).where(*conditions)
    return [], session.execute(count).scalar_one()


def _latest_as_of(org_id: int):
    """Scalar subquery: the day of the organisation's latest stored snapshot."""
    return select(func.max(RfmSnapshot.as_of)).where(RfmSnapshot.org_id == org_id).scalar_subquery()


def latest_segment_members(org_id: int, segments: Sequence[str]) -> Select:
    """Ids of the customers in one of `segments` in the organisation's latest stored snapshot."""
    return select(RfmScore.customer_id).where(
        RfmScore.org_id == org_id,
        RfmScore.as_of == _latest_as_of(org_id),
        RfmScore.segment.in_(segments),
    )


def latest_segments(org_id: int, customer_ids: Select, *, name: str = "segments") -> Subquery:
    """customer_id and segment of `customer_ids` in the organisation's latest stored snapshot."""
    return (
        select(RfmScore.customer_id, RfmScore.segment)
        .where(
            RfmScore.org_id == org_id,
            RfmScore.as_of == _latest_as_of(org_id),
            RfmScore.customer_id.in_(customer_ids),
        )
        .subquery(name)
    )


def latest_customer_rfm(session: Session, org_id: int, customer_id: int) -> RfmScore | None:
    """The customer's row in the organisation's latest stored snapshot, if they have one."""
    latest = _latest_as_of(org_id)
    query = select(RfmScore).where(
        RfmScore.org_id == org_id, RfmScore.as_of == latest, RfmScore.customer_id == customer_id
    )
    return session.execute(query).scalar_one_or_none()


# --- settings -----------------------------------------------------------------------------------


def current_settings(db: Executor, org_id: int) -> Row | None:
    """The latest settings version's row (columns of rfm_settings), on a session or connection."""
    settings = RfmSettings.__table__
    query = (
        select(settings)
        .where(settings.c.org_id == org_id)
        .order_by(settings.c.version.desc())
        .limit(1)
    )
    return db.execute(query).first()


def settings_version(db: Executor, org_id: int, version: int) -> Row | None:
    settings = RfmSettings.__table__
    query = select(settings).where(settings.c.org_id == org_id, settings.c.version == version)
    return db.execute(query).first()


def lock_settings(session: Session, org_id: int) -> None:
    """Serialise settings changes of one organisation (two admins saving at once)."""
    session.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, CAST(:org_id % 2147483647 AS integer))"),
        {"lock_class": _SNAPSHOT_LOCK_CLASS + 1, "org_id": org_id},
    )


def thin_old_snapshots(conn: Connection, org_id: int, *, before: date) -> int:
    """Delete the organisation's snapshots (and their scores) dated before `before`, except the
    latest one of each calendar month; returns how many snapshots went. The history stays, at
    one snapshot a month; days from `before` on are all kept."""
    result = conn.execute(
        text("""
            WITH ranked AS (
                SELECT org_id, as_of, row_number() OVER (
                    PARTITION BY org_id, date_trunc('month', as_of) ORDER BY as_of DESC
                ) AS newest_first
                FROM rfm_snapshots
                WHERE org_id = :org_id AND as_of < :before
            ), doomed AS (
                SELECT org_id, as_of FROM ranked WHERE newest_first > 1
            ), scores AS (
                DELETE FROM rfm_scores s USING doomed d
                WHERE s.org_id = d.org_id AND s.as_of = d.as_of
            )
            DELETE FROM rfm_snapshots s USING doomed d
            WHERE s.org_id = d.org_id AND s.as_of = d.as_of
            """),
        {"org_id": org_id, "before": before},
    )
    return result.rowcount


def base_currency(db: Executor, org_id: int) -> str:
    return db.execute(
        select(Organization.base_currency).where(Organization.id == org_id)
    ).scalar_one()


def org_timezone(db: Executor, org_id: int) -> str:
    return db.execute(select(Organization.timezone).where(Organization.id == org_id)).scalar_one()


def organization_ids(db: Executor) -> list[int]:
    return list(db.execute(select(Organization.id).order_by(Organization.id)).scalars())
