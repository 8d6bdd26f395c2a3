"""SQL of customer health, always within one organisation.

A computation is one INSERT … SELECT over the whole organisation: the purchase windows come from
one range scan of the covering (org_id, occurred_at) index of transactions, each customer's last
purchase from one backward probe of the covering (org_id, customer_id, occurred_at) index, and
the event components from range scans of (org_id, type, occurred_at) over their windows. The
components, weights, contributions, score and band are all computed in the same statement
(the formulas of spendlens.health.definitions), so nothing is pulled into Python.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, UTC
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Select,
    Subquery,
    and_,
    func,
    literal,
    select,
    text,
)
from sqlalchemy.orm import Session

from spendlens.health.definitions import (
    CONTRIBUTION_DECIMALS,
    FAILED_PAYMENT_WINDOW_DAYS,
    FAILED_PAYMENTS_CAP,
    FEATURE_TARGET,
    FEATURE_WINDOW_DAYS,
    LOGIN_TARGET,
    LOGIN_WINDOW_DAYS,
    NORMALIZED_DECIMALS,
    OPEN_TICKETS_CAP,
    RECENCY_HORIZON_DAYS,
    TREND_WINDOW_DAYS,
    WEIGHT_DECIMALS,
    Component,
)
from spendlens.models import (
    Customer,
    HealthComputation,
    HealthScore,
    HealthSettings,
    Organization,
)
from spendlens.models.rules import IS_PURCHASE_SQL

Executor = Session | Connection
# Advisory-lock namespaces: "writing org N's health computations", "changing its settings".
_COMPUTATION_LOCK_CLASS = 0x4EA1
_SETTINGS_LOCK_CLASS = 0x4EA2
AGGREGATE_WORK_MEM = "128MB"

# Per component: (value, normalised) as SQL over the columns of `raw` below; NULL = no data.
_C = Component


def _when_known(column: str, expression: str) -> str:
    """`expression`, NULL when `column` is (least() and greatest() skip NULLs: guard them)."""
    return f"CASE WHEN {column} IS NOT NULL THEN {expression} END"


COMPONENT_SQL: dict[Component, tuple[str, str]] = {
    _C.recency: (
        "recency_days::float8",
        _when_known(
            "recency_days",
            f"1 - least(recency_days, {RECENCY_HORIZON_DAYS})::numeric / {RECENCY_HORIZON_DAYS}",
        ),
    ),
    _C.purchase_frequency_trend: (
        "CASE WHEN recent_purchases + previous_purchases > 0 "
        "THEN (recent_purchases - previous_purchases)::float8 END",
        "CASE WHEN recent_purchases + previous_purchases > 0 "
        "THEN recent_purchases::numeric / (recent_purchases + previous_purchases) END",
    ),
    _C.spend_trend: (
        "CASE WHEN recent_spend + previous_spend > 0 "
        "THEN (recent_spend - previous_spend)::float8 END",
        "CASE WHEN recent_spend + previous_spend > 0 "
        "THEN recent_spend / (recent_spend + previous_spend) END",
    ),
    _C.login_frequency: (
        "logins::float8",
        _when_known("logins", f"least(logins, {LOGIN_TARGET})::numeric / {LOGIN_TARGET}"),
    ),
    _C.feature_adoption: (
        "features::float8",
        _when_known("features", f"least(features, {FEATURE_TARGET})::numeric / {FEATURE_TARGET}"),
    ),
    _C.open_support_tickets: (
        "open_tickets::float8",
        _when_known(
            "open_tickets",
            f"1 - least(open_tickets, {OPEN_TICKETS_CAP})::numeric / {OPEN_TICKETS_CAP}",
        ),
    ),
    _C.failed_payments: (
        "failed_payments::float8",
        _when_known(
            "failed_payments",
            f"1 - least(failed_payments, {FAILED_PAYMENTS_CAP})::numeric / {FAILED_PAYMENTS_CAP}",
        ),
    ),
}
TICKET_TYPES = "('support_ticket_opened', 'support_ticket_closed')"
PAYMENT_TYPES = "('payment_failed', 'payment_succeeded')"


def day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _scores_sql() -> str:
    """SELECT customer_id, score, band, components for every customer with a score, as of
    :as_of (bind parameters: see `_params`)."""
    names = [c.value for c in Component]
    measured = ",\n".join(
        f"({value}) AS v_{c.value}, round(({normalized})::numeric, {NORMALIZED_DECIMALS}) "
        f"AS n_{c.value}"
        for c, (value, normalized) in COMPONENT_SQL.items()
    )
    total_weight = " + ".join(
        f"CASE WHEN n_{name} IS NOT NULL THEN CAST(:w_{name} AS numeric) ELSE 0 END"
        for name in names
    )
    contributions = ",\n".join(
        f"CASE WHEN n_{name} IS NOT NULL AND total_weight > 0 THEN round(100 * "
        f"CAST(:w_{name} AS numeric) / total_weight * n_{name}, {CONTRIBUTION_DECIMALS}) "
        f"ELSE 0 END AS c_{name}"
        for name in names
    )
    score = " + ".join(f"c_{name}" for name in names)
    components = ", ".join(
        f"'{name}', jsonb_build_object('value', v_{name}, 'normalized', n_{name}, 'weight', "
        f"CASE WHEN n_{name} IS NOT NULL THEN round(CAST(:w_{name} AS numeric) / total_weight, "
        f"{WEIGHT_DECIMALS}) ELSE 0 END, 'contribution', c_{name})"
        for name in names
    )
    return f"""
WITH tracks AS MATERIALIZED (
    SELECT
        EXISTS (SELECT 1 FROM events WHERE org_id = :org AND type = 'login'
                AND occurred_at < :day_end) AS logins,
        EXISTS (SELECT 1 FROM events WHERE org_id = :org AND type = 'feature_used'
                AND occurred_at < :day_end) AS features,
        EXISTS (SELECT 1 FROM events WHERE org_id = :org AND type IN {TICKET_TYPES}
                AND occurred_at < :day_end) AS tickets,
        EXISTS (SELECT 1 FROM events WHERE org_id = :org AND type IN {PAYMENT_TYPES}
                AND occurred_at < :day_end) AS payments
), purchases AS (
    SELECT customer_id,
        count(*) FILTER (WHERE {IS_PURCHASE_SQL} AND occurred_at >= :recent_start)
            AS recent_purchases,
        count(*) FILTER (WHERE {IS_PURCHASE_SQL} AND occurred_at < :recent_start)
            AS previous_purchases,
        greatest(coalesce(sum(amount) FILTER (WHERE occurred_at >= :recent_start), 0), 0)
            AS recent_spend,
        greatest(coalesce(sum(amount) FILTER (WHERE occurred_at < :recent_start), 0), 0)
            AS previous_spend
    FROM transactions
    WHERE org_id = :org AND currency = :currency
      AND occurred_at >= :previous_start AND occurred_at < :day_end
    GROUP BY customer_id
), logins AS (
    SELECT customer_id, count(*) AS n FROM events
    WHERE org_id = :org AND type = 'login'
      AND occurred_at >= :login_start AND occurred_at < :day_end
    GROUP BY customer_id
), features AS (
    SELECT customer_id, count(DISTINCT properties ->> 'feature') AS n FROM events
    WHERE org_id = :org AND type = 'feature_used'
      AND occurred_at >= :feature_start AND occurred_at < :day_end
    GROUP BY customer_id
), ticket_states AS (
    SELECT customer_id, properties ->> 'ticket_id' AS ticket_id,
        max(occurred_at) FILTER (WHERE type = 'support_ticket_opened') AS opened,
        max(occurred_at) FILTER (WHERE type = 'support_ticket_closed') AS closed
    FROM events
    WHERE org_id = :org AND type IN {TICKET_TYPES} AND occurred_at < :day_end
    GROUP BY 1, 2
), tickets AS (
    SELECT customer_id, count(*) AS n FROM ticket_states
    WHERE opened IS NOT NULL AND (closed IS NULL OR closed < opened)
    GROUP BY customer_id
), failures AS (
    SELECT customer_id, count(*) AS n FROM events
    WHERE org_id = :org AND type = 'payment_failed'
      AND occurred_at >= :failed_start AND occurred_at < :day_end
    GROUP BY customer_id
), raw AS MATERIALIZED (
    SELECT c.id AS customer_id,
        CAST(:as_of AS date) - (last.occurred_at AT TIME ZONE 'UTC')::date AS recency_days,
        coalesce(p.recent_purchases, 0) AS recent_purchases,
        coalesce(p.previous_purchases, 0) AS previous_purchases,
        coalesce(p.recent_spend, 0) AS recent_spend,
        coalesce(p.previous_spend, 0) AS previous_spend,
        CASE WHEN tracks.logins THEN coalesce(l.n, 0) END AS logins,
        CASE WHEN tracks.features THEN coalesce(f.n, 0) END AS features,
        CASE WHEN tracks.tickets THEN coalesce(t.n, 0) END AS open_tickets,
        CASE WHEN tracks.payments THEN coalesce(fp.n, 0) END AS failed_payments
    FROM customers c
    CROSS JOIN tracks
    LEFT JOIN LATERAL (
        SELECT tr.occurred_at FROM transactions tr
        WHERE tr.org_id = :org AND tr.customer_id = c.id AND tr.{IS_PURCHASE_SQL}
          AND tr.currency = :currency AND tr.occurred_at < :day_end
        ORDER BY tr.occurred_at DESC LIMIT 1
    ) last ON true
    LEFT JOIN purchases p ON p.customer_id = c.id
    LEFT JOIN logins l ON l.customer_id = c.id
    LEFT JOIN features f ON f.customer_id = c.id
    LEFT JOIN tickets t ON t.customer_id = c.id
    LEFT JOIN failures fp ON fp.customer_id = c.id
    WHERE c.org_id = :org
), measured AS MATERIALIZED (
    SELECT customer_id,
{measured}
    FROM raw
), weighted AS MATERIALIZED (
    SELECT *, ({total_weight}) AS total_weight FROM measured
), contributed AS MATERIALIZED (
    SELECT *,
{contributions}
    FROM weighted
    WHERE total_weight > 0
), scored AS MATERIALIZED (
    SELECT *, least(100, greatest(0, {score}))::float8 AS score FROM contributed
)
SELECT customer_id, score,
    CASE WHEN score >= :band_healthy THEN 'healthy'
         WHEN score >= :band_at_risk THEN 'at_risk'
         ELSE 'critical' END AS band,
    jsonb_build_object({components}) AS components
FROM scored
"""


SCORES_SQL = _scores_sql()


def _params(
    org_id: int, currency: str, as_of: date, weights: dict[str, float], bands: dict[str, float]
) -> dict[str, Any]:
    end = day_start(as_of + timedelta(days=1))

    def window(days: int) -> datetime:
        return end - timedelta(days=days)

    return {
        "org": org_id,
        "currency": currency,
        "as_of": as_of,
        "day_end": end,
        "recent_start": window(TREND_WINDOW_DAYS),
        "previous_start": window(2 * TREND_WINDOW_DAYS),
        "login_start": window(LOGIN_WINDOW_DAYS),
        "feature_start": window(FEATURE_WINDOW_DAYS),
        "failed_start": window(FAILED_PAYMENT_WINDOW_DAYS),
        "band_healthy": float(bands["healthy"]),
        "band_at_risk": float(bands["at_risk"]),
        **{f"w_{name}": repr(float(weight)) for name, weight in weights.items()},
    }


def lock_computations(conn: Connection, org_id: int) -> None:
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, CAST(:org_id % 2147483647 AS integer))"),
        {"lock_class": _COMPUTATION_LOCK_CLASS, "org_id": org_id},
    )


def store_computation(
    conn: Connection,
    org_id: int,
    currency: str,
    as_of: date,
    *,
    settings_version: int,
    weights: dict[str, float],
    bands: dict[str, float],
    job_id: int | None = None,
) -> HealthComputation | Row:
    """Compute every customer's health as of `as_of` and store it as that day's computation,
    replacing an earlier one of the day, in the caller's transaction; returns the row."""
    lock_computations(conn, org_id)
    conn.exec_driver_sql(f"SET LOCAL work_mem = '{AGGREGATE_WORK_MEM}'")
    earlier = conn.execute(
        text("SELECT id FROM health_computations WHERE org_id = :org AND as_of = :as_of"),
        {"org": org_id, "as_of": as_of},
    ).scalar_one_or_none()
    if earlier is not None:
        conn.execute(
            text("DELETE FROM health_scores WHERE org_id = :org AND computation_id = :id"),
            {"org": org_id, "id": earlier},
        )
        conn.execute(
            text("DELETE FROM health_computations WHERE org_id = :org AND id = :id"),
            {"org": org_id, "id": earlier},
        )
    computation = conn.execute(
        text(
            "INSERT INTO health_computations (org_id, as_of, settings_version, customers, "
            "unscored, computed_at, job_id) VALUES (:org, :as_of, :version, 0, 0, "
            "clock_timestamp(), :job_id) RETURNING id, computed_at"
        ),
        {"org": org_id, "as_of": as_of, "version": settings_version, "job_id": job_id},
    ).one()
    params = _params(org_id, currency, as_of, weights, bands)
    # Computed into a temporary table first: PostgreSQL runs CREATE TABLE AS with parallel
    # workers, INSERT … SELECT without them (the same choice as the RFM snapshot).
    scored = f"health_rows_{uuid.uuid4().hex[:12]}"
    conn.execute(text(f"CREATE TEMPORARY TABLE {scored} ON COMMIT DROP AS {SCORES_SQL}"), params)
    inserted = conn.execute(
        text(f"""
            INSERT INTO health_scores (org_id, computation_id, customer_id, as_of, score, band,
                components, settings_version, computed_at)
            SELECT :org, :computation_id, s.customer_id, :as_of, s.score, s.band, s.components,
                :version, :computed_at
            FROM {scored} s
            ORDER BY s.customer_id
            """),
        {
            "org": org_id,
            "as_of": as_of,
            "computation_id": computation.id,
            "version": settings_version,
            "computed_at": computation.computed_at,
        },
    ).rowcount
    conn.exec_driver_sql(f"DROP TABLE {scored}")
    total = conn.execute(
        select(func.count()).select_from(Customer).where(Customer.org_id == org_id)
    ).scalar_one()
    conn.execute(
        text(
            "UPDATE health_computations SET customers = :scored, unscored = :unscored "
            "WHERE org_id = :org AND id = :id"
        ),
        {"scored": inserted, "unscored": total - inserted, "org": org_id, "id": computation.id},
    )
    return get_computation(conn, org_id, computation.id)


# --- reading ------------------------------------------------------------------------------------


def get_computation(db: Executor, org_id: int, computation_id: int) -> Row:
    table = HealthComputation.__table__
    return db.execute(
        select(table).where(table.c.org_id == org_id, table.c.id == computation_id)
    ).one()


def latest_computation(db: Executor, org_id: int) -> Row | None:
    table = HealthComputation.__table__
    return db.execute(
        select(table).where(table.c.org_id == org_id).order_by(table.c.as_of.desc()).limit(1)
    ).first()


def previous_computation(db: Executor, org_id: int, before: date) -> Row | None:
    table = HealthComputation.__table__
    return db.execute(
        select(table)
        .where(table.c.org_id == org_id, table.c.as_of < before)
        .order_by(table.c.as_of.desc())
        .limit(1)
    ).first()


def _latest_computation_id(org_id: int):
    table = HealthComputation.__table__
    return (
        select(table.c.id)
        .where(table.c.org_id == org_id)
        .order_by(table.c.as_of.desc())
        .limit(1)
        .scalar_subquery()
    )


def latest_scores(org_id: int, *, name: str = "health") -> Subquery:
    """customer_id, health_score and health_band of every customer in the organisation's latest
    computation (for the customers list)."""
    s = HealthScore.__table__.c
    return (
        select(s.customer_id, s.score.label("health_score"), s.band.label("health_band"))
        .where(s.org_id == org_id, s.computation_id == _latest_computation_id(org_id))
        .subquery(name)
    )


def latest_band_members(org_id: int, bands: list[str]) -> Select:
    s = HealthScore.__table__.c
    return select(s.customer_id).where(
        s.org_id == org_id,
        s.computation_id == _latest_computation_id(org_id),
        s.band.in_(bands),
    )


def customer_score(db: Executor, org_id: int, computation_id: int, customer_id: int) -> Row | None:
    s = HealthScore.__table__.c
    return db.execute(
        select(HealthScore.__table__).where(
            s.org_id == org_id, s.computation_id == computation_id, s.customer_id == customer_id
        )
    ).first()


def customer_history(db: Executor, org_id: int, customer_id: int, since: date) -> list[Row]:
    s = HealthScore.__table__.c
    return list(
        db.execute(
            select(s.as_of, s.score, s.band, s.settings_version, s.computed_at)
            .where(s.org_id == org_id, s.customer_id == customer_id, s.as_of >= since)
            .order_by(s.as_of)
        )
    )


def distribution(db: Executor, org_id: int, computation_id: int, bins: int) -> dict[int, int]:
    """Customers per score bin (bin k holds scores in [k·w, (k+1)·w), the last one 100 too)."""
    s = HealthScore.__table__.c
    width = 100 / bins
    bucket = func.least(func.floor(s.score / width), bins - 1).label("bin")
    rows = db.execute(
        select(bucket, func.count())
        .where(s.org_id == org_id, s.computation_id == computation_id)
        .group_by(bucket)
    )
    return {int(row[0]): row[1] for row in rows}


def band_counts(db: Executor, org_id: int, computation_id: int) -> dict[str, int]:
    s = HealthScore.__table__.c
    rows = db.execute(
        select(s.band, func.count())
        .where(s.org_id == org_id, s.computation_id == computation_id)
        .group_by(s.band)
    )
    return {row[0]: row[1] for row in rows}


def at_risk_page(
    db: Executor,
    org_id: int,
    computation_id: int,
    previous_id: int | None,
    bands: list[str],
    *,
    sort: str,
    skip: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Customers of `bands` in the computation, with their change since the previous one."""
    scores = HealthScore.__table__
    current = scores.alias("current")
    previous = scores.alias("previous")
    c, p = current.c, previous.c
    change = (c.score - p.score).label("change")
    joined = current.join(
        Customer, and_(Customer.org_id == org_id, Customer.id == c.customer_id)
    ).outerjoin(
        previous,
        and_(
            p.org_id == org_id,
            p.computation_id == (previous_id if previous_id is not None else -1),
            p.customer_id == c.customer_id,
        ),
    )
    keys = {
        "score": (c.score.asc(), c.customer_id.asc()),
        "-score": (c.score.desc(), c.customer_id.desc()),
        "change": (change.asc().nulls_last(), c.customer_id.asc()),
        "-change": (change.desc().nulls_last(), c.customer_id.desc()),
        "name": (Customer.name.asc(), c.customer_id.asc()),
        "-name": (Customer.name.desc(), c.customer_id.desc()),
    }
    query = (
        select(
            c.customer_id,
            Customer.external_id,
            Customer.name,
            Customer.email,
            c.score,
            c.band,
            p.score.label("previous_score"),
            change,
            func.count().over().label("total"),
        )
        .select_from(joined)
        .where(c.org_id == org_id, c.computation_id == computation_id, c.band.in_(bands))
        .order_by(*keys[sort])
        .offset(skip)
        .limit(limit)
    )
    items = [dict(row) for row in db.execute(query).mappings()]
    if items:
        return items, items[0]["total"]
    total = db.execute(
        select(func.count())
        .select_from(scores)
        .where(
            scores.c.org_id == org_id,
            scores.c.computation_id == computation_id,
            scores.c.band.in_(bands),
        )
    ).scalar_one()
    return [], total


# --- settings -----------------------------------------------------------------------------------


def current_settings(db: Executor, org_id: int) -> Row | None:
    table = HealthSettings.__table__
    return db.execute(
        select(table).where(table.c.org_id == org_id).order_by(table.c.version.desc()).limit(1)
    ).first()


def settings_version(db: Executor, org_id: int, version: int) -> Row | None:
    table = HealthSettings.__table__
    return db.execute(
        select(table).where(table.c.org_id == org_id, table.c.version == version)
    ).first()


def lock_settings(db: Executor, org_id: int) -> None:
    db.execute(
        text("SELECT pg_advisory_xact_lock(:lock_class, CAST(:org_id % 2147483647 AS integer))"),
        {"lock_class": _SETTINGS_LOCK_CLASS, "org_id": org_id},
    )


def customer_exists(db: Executor, org_id: int, customer_id: int) -> bool:
    return (
        db.execute(
            select(literal(1)).where(Customer.org_id == org_id, Customer.id == customer_id)
        ).first()
        is not None
    )


def latest_job_state(db: Executor, org_id: int, kind: str) -> tuple[str, dict] | None:
    """(state, params) of the organisation's most recent job of `kind`."""
    row = db.execute(
        text(
            "SELECT state, params FROM jobs WHERE org_id = :org_id AND kind = :kind "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
        {"org_id": org_id, "kind": kind},
    ).first()
    return (row.state, row.params) if row else None


def base_currency(db: Executor, org_id: int) -> str:
    return db.execute(
        select(Organization.base_currency).where(Organization.id == org_id)
    ).scalar_one()


def organization_ids(db: Executor) -> list[int]:
    return list(db.execute(select(Organization.id).order_by(Organization.id)).scalars())
