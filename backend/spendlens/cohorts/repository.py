"""SQL of the cohort matrix, within one organisation: two aggregates over its transactions in the
base currency (each customer's first purchase; each customer's activity per period since the first
cohort), joined onto a generate_series grid of cohorts × periods so that empty cells are zeros."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

# Hashing a customer × period per row of the aggregate wants more than the default 4 MB.
COHORT_WORK_MEM = "128MB"

_MATRIX_SQL = """
WITH members AS (
    SELECT customer_id, date_trunc(:unit, timezone('UTC', min(occurred_at))) AS cohort
    FROM transactions
    WHERE org_id = :org_id AND currency = :currency AND kind = 'purchase'
      AND occurred_at < :horizon
    GROUP BY customer_id
),
cohort_members AS (
    SELECT customer_id, cohort FROM members
    WHERE cohort BETWEEN CAST(:first_cohort AS timestamp) AND CAST(:last_cohort AS timestamp)
),
activity AS (
    SELECT customer_id, date_trunc(:unit, timezone('UTC', occurred_at)) AS period,
           bool_or(kind = 'purchase') AS bought, sum(amount) AS revenue
    FROM transactions
    WHERE org_id = :org_id AND currency = :currency
      AND occurred_at >= :since AND occurred_at < :horizon
    GROUP BY 1, 2
),
cells AS (
    SELECT m.cohort, a.period,
           count(*) FILTER (WHERE a.bought) AS customers, sum(a.revenue) AS revenue
    FROM cohort_members m
    JOIN activity a ON a.customer_id = m.customer_id AND a.period >= m.cohort
    GROUP BY m.cohort, a.period
),
sizes AS (
    SELECT cohort, count(*) AS size FROM cohort_members GROUP BY cohort
),
grid AS (
    SELECT c.cohort, p.period
    FROM generate_series(CAST(:first_cohort AS timestamp), CAST(:last_cohort AS timestamp),
                         CAST(:step AS interval)) AS c(cohort)
    CROSS JOIN LATERAL generate_series(c.cohort, CAST(:last_period AS timestamp),
                                       CAST(:step AS interval)) AS p(period)
)
SELECT CAST(g.cohort AS date) AS cohort, CAST(g.period AS date) AS period,
       COALESCE(s.size, 0) AS size,
       COALESCE(cl.customers, 0) AS customers,
       COALESCE(cl.revenue, 0) AS revenue
FROM grid g
LEFT JOIN sizes s ON s.cohort = g.cohort
LEFT JOIN cells cl ON cl.cohort = g.cohort AND cl.period = g.period
ORDER BY g.cohort, g.period
"""


def matrix_cells(
    session: Session,
    org_id: int,
    currency: str,
    *,
    unit: str,
    step: str,
    first_cohort: date,
    last_cohort: date,
    last_period: date,
    since: datetime,
    horizon: datetime,
) -> list[dict[str, Any]]:
    """One row per (cohort, period) from each cohort's period up to `last_period`, in order:
    cohort size, cohort customers with a purchase in the period, and their net spend in it.

    `unit` is date_trunc's ('week', 'month', 'quarter'), `step` the matching interval; cohorts
    and periods are UTC; transactions at or after `horizon` are not seen, and those before
    `since` (the first cohort's start) only count to decide who belongs to which cohort.
    """
    session.execute(text(f"SET LOCAL work_mem = '{COHORT_WORK_MEM}'"))
    rows = session.execute(
        text(_MATRIX_SQL),
        {
            "org_id": org_id,
            "currency": currency,
            "unit": unit,
            "step": step,
            "first_cohort": first_cohort,
            "last_cohort": last_cohort,
            "last_period": last_period,
            "since": since,
            "horizon": horizon,
        },
    ).mappings()
    return [dict(row) for row in rows]
