"""SQL of the cohort matrix, within one organisation's transactions in its base currency.

One statement. Its heavy part is a UNION ALL with one aggregate per period (each customer's
purchases and net spend in that period's time range, read from the (org_id, occurred_at) index),
plus one more branch listing the customers who bought before the first period. PostgreSQL runs
the branches side by side in parallel workers (Parallel Append), each with a small hash table of
one period's customers, and no row needs a date_trunc. Everything after it works on those
per-customer-and-period rows: a customer's cohort is the first period they bought in (a purchase
before the first period puts them in no cohort shown), and the cells are joined onto a
generate_series grid of cohorts × periods so that empty cells are zeros.

(An earlier version grouped all the transactions by (customer, date_trunc(period)) in one
aggregate: PostgreSQL cannot split such a many-group aggregate among workers, and it took 2.5 times
as long on 10 million rows; see bench/README.md.)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.orm import Session

from spendlens.models.rules import IS_PURCHASE_SQL

# The per-period hash tables are small; the joins after them hash up to a row per customer and
# period, which wants more than the default 4 MB.
COHORT_WORK_MEM = "128MB"

_BEFORE_BRANCH = f"""
    SELECT 0 AS period, customer_id, true AS bought, 0::numeric AS revenue
    FROM transactions
    WHERE org_id = :org_id AND currency = :currency AND {IS_PURCHASE_SQL} AND occurred_at < :p1
    GROUP BY customer_id"""

# A template: {k} and {next} are the period's bound parameters.
_PERIOD_BRANCH = f"""
    SELECT {{k}} AS period, customer_id, bool_or({IS_PURCHASE_SQL}) AS bought,
           sum(amount) AS revenue
    FROM transactions
    WHERE org_id = :org_id AND currency = :currency
      AND occurred_at >= :p{{k}} AND occurred_at < :p{{next}}
    GROUP BY customer_id"""

_MATRIX_SQL = """
WITH activity AS MATERIALIZED ({branches}
),
members AS (
    SELECT customer_id, min(period) AS cohort
    FROM activity WHERE bought
    GROUP BY customer_id
    HAVING min(period) BETWEEN 1 AND :cohort_count
),
cells AS (
    SELECT m.cohort, a.period,
           count(*) FILTER (WHERE a.bought) AS customers, sum(a.revenue) AS revenue
    FROM members m
    JOIN activity a ON a.customer_id = m.customer_id AND a.period >= m.cohort
    GROUP BY m.cohort, a.period
),
sizes AS (
    SELECT cohort, count(*) AS size FROM members GROUP BY cohort
),
grid AS (
    SELECT c.cohort, p.period
    FROM generate_series(1, :cohort_count) AS c(cohort)
    CROSS JOIN LATERAL generate_series(c.cohort, :period_count) AS p(period)
)
SELECT g.cohort, g.period,
       COALESCE(s.size, 0) AS size,
       COALESCE(cl.customers, 0) AS customers,
       COALESCE(cl.revenue, 0) AS revenue
FROM grid g
LEFT JOIN sizes s ON s.cohort = g.cohort
LEFT JOIN cells cl ON cl.cohort = g.cohort AND cl.period = g.period
ORDER BY g.cohort, g.period
"""


def matrix_sql(period_count: int) -> str:
    """The statement for `period_count` periods (one UNION ALL branch each)."""
    branches = [_BEFORE_BRANCH] + [
        _PERIOD_BRANCH.format(k=k, next=k + 1) for k in range(1, period_count + 1)
    ]
    return _MATRIX_SQL.format(branches="\n    UNION ALL".join(branches))


def matrix_statement(
    org_id: int, currency: str, *, bounds: list[datetime], cohort_count: int
) -> tuple[TextClause, dict[str, Any]]:
    """The statement of `matrix_cells` and its parameters."""
    period_count = len(bounds) - 1
    params: dict[str, Any] = {f"p{k}": bound for k, bound in enumerate(bounds, start=1)}
    params.update(
        org_id=org_id, currency=currency, cohort_count=cohort_count, period_count=period_count
    )
    return text(matrix_sql(period_count)), params


def prepare_session(session: Session) -> None:
    """Settings for the matrix statement, for the rest of the transaction."""
    # JIT compilation of a statement this size costs more than it saves (0.7 s at 10M rows).
    session.execute(text("SET LOCAL jit = off"))
    session.execute(text(f"SET LOCAL work_mem = '{COHORT_WORK_MEM}'"))


def matrix_cells(
    session: Session,
    org_id: int,
    currency: str,
    *,
    bounds: list[datetime],
    cohort_count: int,
) -> list[dict[str, Any]]:
    """One row per (cohort, period), numbered from 1 (the first cohort's period), for every
    cohort up to `cohort_count` and every period from its own up to the last one, in order:
    cohort size, cohort customers with a purchase in the period, and their net spend in it.

    `bounds` are the UTC instants where the periods start, then where the last one ends (at the
    latest the end of the last day observed); transactions from there on are not seen.
    """
    prepare_session(session)
    statement, params = matrix_statement(org_id, currency, bounds=bounds, cohort_count=cohort_count)
    return [dict(row) for row in session.execute(statement, params).mappings()]
