"""Queries of customer lifetime value, always within one organisation: the customers' purchase
summaries the models are fitted on (aggregated in PostgreSQL), the fits, and the estimates.

A purchase is a transaction of kind `purchase` in the organisation's base currency; purchases on
the same UTC day are one purchase occasion (their amounts add up), as in Fader, Hardie and Lee's
data, where x counts the days with a repeat purchase.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import numpy as np
from sqlalchemy import (
    Connection,
    Date,
    Float,
    Integer,
    Numeric,
    Select,
    Subquery,
    and_,
    cast,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import array
from sqlalchemy.orm import Session

from spendlens.models import ClvEstimate, ClvFit, Customer, Job, Organization, Transaction
from spendlens.models.rules import is_purchase

transactions = Transaction.__table__
estimates = ClvEstimate.__table__
fits = ClvFit.__table__


@dataclass(frozen=True)
class PurchaseSummaries:
    """One element per customer; times in days (the service converts them to its time unit)."""

    customer_id: np.ndarray
    frequency: np.ndarray  # x: purchase days after the first one, up to `end`
    recency_days: np.ndarray  # t_x: last purchase day (up to `end`) − first purchase day
    age_days: np.ndarray  # T: `end` − first purchase day
    monetary: np.ndarray  # m_x: mean spend of the repeat purchase days (NaN where x = 0)
    holdout_frequency: np.ndarray  # purchase days in (end, holdout_end]; 0 without a holdout

    def __len__(self) -> int:
        return int(self.customer_id.size)


def purchase_summaries_query(
    org_id: int,
    currency: str,
    *,
    end: date,
    first_from: date | None = None,
    holdout_end: date | None = None,
) -> Select:
    """Per customer whose first purchase ever falls in [first_from, end] (no lower bound when
    `first_from` is None): x, t_x and T in days as of the end of day `end`, m_x, and the purchase
    days in (end, holdout_end]."""
    t = transactions.c
    last_day = holdout_end or end
    day = cast(func.timezone("UTC", t.occurred_at), Date)
    upto = datetime.combine(last_day + timedelta(days=1), time(), tzinfo=UTC)
    days = (
        select(
            t.customer_id,
            day.label("day"),
            func.sum(t.amount).label("spend"),
            func.min(day).over(partition_by=t.customer_id).label("first_day"),
        )
        .where(
            t.org_id == org_id,
            t.currency == currency,
            is_purchase(t),
            t.occurred_at < upto,
        )
        .group_by(t.customer_id, day)
        .subquery("days")
    )
    d = days.c
    in_calibration = d.day <= end
    repeat = and_(d.day > d.first_day, in_calibration)
    cohort = [d.first_day <= end]
    if first_from is not None:
        cohort.append(d.first_day >= first_from)
    holdout = func.count().filter(d.day > end) if holdout_end is not None else literal(0)
    return (
        select(
            d.customer_id,
            (func.count().filter(in_calibration) - 1).label("frequency"),
            (func.max(d.day).filter(in_calibration) - d.first_day).label("recency_days"),
            (literal(end, Date) - d.first_day).label("age_days"),
            cast(func.avg(d.spend).filter(repeat), Float).label("monetary"),
            holdout.label("holdout_frequency"),
        )
        .where(*cohort)
        .group_by(d.customer_id, d.first_day)
        .order_by(d.customer_id)
    )


def purchase_summaries(
    conn: Connection,
    org_id: int,
    currency: str,
    *,
    end: date,
    first_from: date | None = None,
    holdout_end: date | None = None,
) -> PurchaseSummaries:
    query = purchase_summaries_query(
        org_id, currency, end=end, first_from=first_from, holdout_end=holdout_end
    )
    rows = conn.execute(query).all()
    columns = list(zip(*rows)) if rows else [()] * 6
    ids, frequency, recency, age, monetary, holdout = columns
    return PurchaseSummaries(
        customer_id=np.array(ids, dtype=np.int64),
        frequency=np.array(frequency, dtype=float),
        recency_days=np.array(recency, dtype=float),
        age_days=np.array(age, dtype=float),
        monetary=np.array([np.nan if m is None else m for m in monetary], dtype=float),
        holdout_frequency=np.array(holdout, dtype=float),
    )


def copy_estimates(conn: Connection, org_id: int, fit_id: int, rows: list[tuple]) -> None:
    """COPY the estimates of a fit in CSV form on the job's own transaction (far faster than
    INSERTs at 100,000 customers). Each row: customer_id, frequency, recency, age, monetary,
    expected_purchases, p_alive, expected_spend, clv; None for NULL."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow((org_id, fit_id, *("" if v is None else v for v in row)))
    buffer.seek(0)
    columns = (
        "org_id, fit_id, customer_id, frequency, recency, age, monetary, expected_purchases, "
        "p_alive, expected_spend, clv"
    )
    # COPY FROM refuses tables under row-level security: copy into a temporary table (the
    # fast part), then one INSERT … SELECT, which the policy checks.
    conn.exec_driver_sql("DROP TABLE IF EXISTS pg_temp.clv_estimates_copy")
    conn.exec_driver_sql(
        "CREATE TEMPORARY TABLE clv_estimates_copy (LIKE clv_estimates) ON COMMIT DROP"
    )
    with conn.connection.driver_connection.cursor() as cursor:
        cursor.copy_expert(
            f"COPY clv_estimates_copy ({columns}) FROM STDIN WITH (FORMAT csv)", buffer
        )
    conn.exec_driver_sql(
        f"INSERT INTO clv_estimates ({columns}) SELECT {columns} FROM clv_estimates_copy"
    )
    conn.exec_driver_sql("DROP TABLE pg_temp.clv_estimates_copy")


def base_currency(conn: Connection, org_id: int) -> str:
    organizations = Organization.__table__
    query = select(organizations.c.base_currency).where(organizations.c.id == org_id)
    return conn.execute(query).scalar_one()


# --- fits -----------------------------------------------------------------------------------------


def fit_for_job(conn: Connection, org_id: int, job_id: int):
    """The fit row (Core) that a job computes, or None."""
    query = select(fits).where(fits.c.org_id == org_id, fits.c.job_id == job_id)
    return conn.execute(query).first()


def save_fit(conn: Connection, org_id: int, fit_id: int, **values) -> None:
    conn.execute(update(fits).where(fits.c.org_id == org_id, fits.c.id == fit_id).values(**values))


def _with_job() -> Select:
    jobs = Job.__table__
    return select(ClvFit, jobs.c.state, jobs.c.result).join(
        jobs, (jobs.c.org_id == ClvFit.org_id) & (jobs.c.id == ClvFit.job_id)
    )


def get(session: Session, org_id: int, fit_id: int) -> tuple[ClvFit, str, dict | None] | None:
    """The fit, its job's state and result."""
    row = session.execute(_with_job().where(ClvFit.org_id == org_id, ClvFit.id == fit_id)).first()
    return (row[0], row[1], row[2]) if row else None


def list_page(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[tuple[ClvFit, str, dict | None]], int]:
    total = session.execute(
        select(func.count()).select_from(ClvFit).where(ClvFit.org_id == org_id)
    ).scalar_one()
    rows = session.execute(
        _with_job()
        .where(ClvFit.org_id == org_id)
        .order_by(ClvFit.created_at.desc(), ClvFit.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()
    return [(row[0], row[1], row[2]) for row in rows], total


_ESTIMATE_ORDER = {
    "clv": estimates.c.clv,
    "p_alive": estimates.c.p_alive,
    "expected_purchases": estimates.c.expected_purchases,
}


def estimates_page(
    session: Session, org_id: int, fit_id: int, *, sort: str, skip: int, limit: int
) -> tuple[list[dict], int]:
    """A page of a fit's estimates with the customers' names; `sort` is a column name with an
    optional leading `-` for descending (ties by customer id, missing values last)."""
    e = estimates.c
    scope = (e.org_id == org_id, e.fit_id == fit_id)
    total = session.execute(select(func.count()).where(*scope)).scalar_one()
    column = _ESTIMATE_ORDER[sort.lstrip("-")]
    if sort.startswith("-"):
        order = (column.desc().nulls_last(), e.customer_id.desc())
    else:
        order = (column.asc().nulls_last(), e.customer_id.asc())
    query = (
        select(
            e.customer_id,
            Customer.external_id,
            Customer.name,
            e.frequency,
            e.recency,
            e.age,
            e.monetary,
            e.p_alive,
            e.expected_purchases,
            e.expected_spend,
            e.clv,
        )
        .join(Customer, (Customer.org_id == e.org_id) & (Customer.id == e.customer_id))
        .where(*scope)
        .order_by(*order)
        .offset(skip)
        .limit(limit)
    )
    return [dict(row) for row in session.execute(query).mappings()], total


def latest_fit_id(org_id: int):
    """Scalar subquery: the organisation's most recently fitted fit (NULL when none)."""
    return (
        select(fits.c.id)
        .where(fits.c.org_id == org_id, fits.c.fitted_at.is_not(None))
        .order_by(fits.c.fitted_at.desc(), fits.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def latest_estimates(org_id: int, *, name: str = "clv") -> Subquery:
    """Every customer's estimates from the latest fit: customer_id, expected_purchases, p_alive,
    expected_spend, clv."""
    e = estimates.c
    return (
        select(e.customer_id, e.expected_purchases, e.p_alive, e.expected_spend, e.clv)
        .where(e.org_id == org_id, e.fit_id == latest_fit_id(org_id))
        .subquery(name)
    )


def customer_estimate(session: Session, org_id: int, customer_id: int) -> dict | None:
    """The customer's estimate from the latest fit, with that fit's horizons."""
    e = estimates.c
    query = (
        select(
            e.fit_id,
            fits.c.scored_as_of,
            fits.c.purchases_horizon_days,
            fits.c.clv_horizon_days,
            fits.c.monthly_discount_rate,
            fits.c.time_unit,
            e.frequency,
            e.recency,
            e.age,
            e.expected_purchases,
            e.p_alive,
            e.expected_spend,
            e.clv,
        )
        .join(fits, (fits.c.org_id == e.org_id) & (fits.c.id == e.fit_id))
        .where(
            e.org_id == org_id,
            e.customer_id == customer_id,
            e.fit_id == latest_fit_id(org_id),
        )
    )
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


# --- aggregates of a fit's estimates (for charts) --------------------------------------------


@dataclass(frozen=True)
class ClvStatistics:
    customers: int  # with a CLV
    without_clv: int
    total: Decimal | None
    median: Decimal | None
    maximum: Decimal | None
    cap: Decimal | None


def clv_statistics(
    session: Session, org_id: int, fit_id: int, cap_quantile: float
) -> ClvStatistics:
    """Count, total, discrete median, maximum and discrete `cap_quantile` quantile of the CLVs."""
    e = estimates.c
    row = session.execute(
        select(
            func.count(e.clv),
            func.count() - func.count(e.clv),
            func.sum(e.clv),
            func.percentile_disc(0.5).within_group(e.clv),
            func.max(e.clv),
            func.percentile_disc(cap_quantile).within_group(e.clv),
        ).where(e.org_id == org_id, e.fit_id == fit_id)
    ).one()
    return ClvStatistics(*row)


def clv_bins(
    session: Session, org_id: int, fit_id: int, *, width: Decimal, bins: int
) -> dict[int, tuple[int, Decimal]]:
    """{bin k: (customers, CLV total)}: bin k < `bins` holds CLV in [k·width, (k+1)·width), bin
    `bins` everything from bins·width up (exact numeric arithmetic)."""
    e = estimates.c
    k = func.greatest(func.least(func.floor(e.clv / literal(width, Numeric)), bins), 0)
    k = cast(k, Integer).label("k")
    rows = session.execute(
        select(k, func.count(), func.sum(e.clv))
        .where(e.org_id == org_id, e.fit_id == fit_id, e.clv.is_not(None))
        .group_by(k)
    ).all()
    return {int(row[0]): (int(row[1]), row[2]) for row in rows}


def p_alive_cells(
    session: Session,
    org_id: int,
    fit_id: int,
    *,
    recency_edges_days: list[int],
    frequency_edges: list[int],
) -> dict[tuple[int, int], tuple[int, float]]:
    """{(recency bucket, frequency bucket): (customers, mean P(alive))} over non-empty cells.
    Recency is T − t_x in whole days; bucket i holds [edges[i], edges[i+1]) (the last one
    open-ended); the first edge of both lists must be 0."""
    e = estimates.c
    days = cast(func.round((e.age - e.recency) * 7), Integer)
    # width_bucket(x, thresholds) is how many thresholds are ≤ x: 0 below the second edge.
    r = func.width_bucket(days, array(recency_edges_days[1:])).label("r")
    f = func.width_bucket(e.frequency, array(frequency_edges[1:])).label("f")
    rows = session.execute(
        select(r, f, func.count(), func.avg(e.p_alive))
        .where(e.org_id == org_id, e.fit_id == fit_id)
        .group_by(r, f)
    ).all()
    return {(int(row[0]), int(row[1])): (int(row[2]), float(row[3])) for row in rows}
