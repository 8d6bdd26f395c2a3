"""SQL of the customer journey, always within one organisation: the events the rules read, the
stage intervals and milestones they write, the customers pending a rebuild, the daily rollups and
the "as of" questions answered from them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from spendlens.journey.rules import (
    EventFact,
    Journey,
    Milestones,
    Stage,
    StageInterval,
)

Db = Session | Connection
# Rollup key: (day, from_stage, to_stage); from_stage "new" = did not exist the day before.
TransitionKey = tuple[date, str, str]
STAGE_VALUES = [stage.value for stage in Stage]


# --- settings -----------------------------------------------------------------------------------


def get_settings(db: Db, org_id: int) -> Any:
    return (
        db.execute(
            text(
                "SELECT churn_after_days, updated_at, updated_by FROM journey_settings "
                "WHERE org_id = :org_id"
            ),
            {"org_id": org_id},
        )
        .mappings()
        .first()
    )


def put_settings(db: Db, org_id: int, churn_after_days: int, user_id: int | None) -> Any:
    return (
        db.execute(
            text("""
                INSERT INTO journey_settings (org_id, churn_after_days, updated_by)
                VALUES (:org_id, :days, :user_id)
                ON CONFLICT (org_id) DO UPDATE
                SET churn_after_days = EXCLUDED.churn_after_days,
                    updated_by = EXCLUDED.updated_by, updated_at = now()
                RETURNING churn_after_days, updated_at, updated_by
                """),
            {"org_id": org_id, "days": churn_after_days, "user_id": user_id},
        )
        .mappings()
        .one()
    )


# --- customers pending a rebuild ----------------------------------------------------------------


def add_pending(db: Db, org_id: int, customer_ids: Iterable[int]) -> int:
    """Mark customers for a rebuild (a customer already pending gets a new `queued_at`, so a job
    that read the older one does not take the mark away). In customer order, so that concurrent
    ingests lock the rows in one order and cannot deadlock."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    db.execute(
        text("""
            INSERT INTO journey_pending (org_id, customer_id, queued_at)
            SELECT :org_id, id, clock_timestamp() FROM unnest(CAST(:ids AS bigint[])) AS t(id)
            ORDER BY id
            ON CONFLICT (org_id, customer_id) DO UPDATE SET queued_at = EXCLUDED.queued_at
            """),
        {"org_id": org_id, "ids": ids},
    )
    return len(ids)


def pend_every_customer_with_events(db: Db, org_id: int) -> int:
    """Mark every customer who has events (for a rebuild after a settings change)."""
    return db.execute(
        text("""
            INSERT INTO journey_pending (org_id, customer_id, queued_at)
            SELECT org_id, id, clock_timestamp() FROM customers c
            WHERE org_id = :org_id AND EXISTS (
                SELECT 1 FROM events e WHERE e.org_id = c.org_id AND e.customer_id = c.id
            )
            ORDER BY id
            ON CONFLICT (org_id, customer_id) DO UPDATE SET queued_at = EXCLUDED.queued_at
            """),
        {"org_id": org_id},
    ).rowcount


def read_pending(db: Db, org_id: int) -> list[tuple[int, datetime]]:
    rows = db.execute(
        text(
            "SELECT customer_id, queued_at FROM journey_pending WHERE org_id = :org_id "
            "ORDER BY customer_id"
        ),
        {"org_id": org_id},
    )
    return [(row.customer_id, row.queued_at) for row in rows]


def clear_pending(db: Db, org_id: int, taken: Sequence[tuple[int, datetime]]) -> None:
    """Remove the marks a job read, unless an ingest renewed one meanwhile."""
    if not taken:
        return
    db.execute(
        text("""
            DELETE FROM journey_pending p
            USING unnest(CAST(:ids AS bigint[]), CAST(:marks AS timestamptz[])) AS t(id, mark)
            WHERE p.org_id = :org_id AND p.customer_id = t.id AND p.queued_at = t.mark
            """),
        {"org_id": org_id, "ids": [i for i, _ in taken], "marks": [m for _, m in taken]},
    )


def has_pending(db: Db, org_id: int) -> bool:
    return db.execute(
        text("SELECT EXISTS (SELECT 1 FROM journey_pending WHERE org_id = :org_id)"),
        {"org_id": org_id},
    ).scalar_one()


def orgs_with_pending(db: Db) -> list[int]:
    rows = db.execute(text("SELECT DISTINCT org_id FROM journey_pending ORDER BY org_id"))
    return [row.org_id for row in rows]


def latest_job_state(db: Db, org_id: int, kind: str) -> str | None:
    """The state of the organisation's most recent job of `kind` (None: there is none)."""
    return db.execute(
        text(
            "SELECT state FROM jobs WHERE org_id = :org_id AND kind = :kind "
            "ORDER BY created_at DESC, id DESC LIMIT 1"
        ),
        {"org_id": org_id, "kind": kind},
    ).scalar_one_or_none()


# --- the events the rules read ------------------------------------------------------------------


def events_of(db: Db, org_id: int, customer_ids: Sequence[int]) -> dict[int, list[EventFact]]:
    """Per customer, their events as the rules need them. One plain read of all their events
    (an index probe per customer and monthly partition) is several times faster than asking
    the database to pick out the types that matter and each customer's first event."""
    rows = db.execute(
        text("""
            SELECT customer_id, occurred_at, event_id::text AS event_id, type,
                   properties->>'shop_id' AS shop_id
            FROM events
            WHERE org_id = :org_id AND customer_id = ANY(CAST(:ids AS bigint[]))
            """),
        {"org_id": org_id, "ids": list(customer_ids)},
    )
    found: dict[int, list[EventFact]] = {}
    for row in rows:
        found.setdefault(row.customer_id, []).append(
            EventFact(row.occurred_at, row.event_id, row.type, row.shop_id)
        )
    return found


def events_streamed(
    db: Connection, org_id: int, customer_ids: set[int], chunk_size: int
) -> Iterator[tuple[list[int], dict[int, list[EventFact]]]]:
    """The events of many customers by one pass over the organisation's events in customer
    order (a server-side cursor), in chunks of `chunk_size` customers: (customer ids, their
    events). For a rebuild of most customers, far cheaper than an index probe per customer and
    partition. Every id of `customer_ids` is in exactly one chunk, with no events if it has none."""
    # Options on the statement: Connection.execution_options would change the connection.
    rows = db.execute(
        text("""
            SELECT customer_id, occurred_at, event_id::text AS event_id, type,
                   properties->>'shop_id' AS shop_id
            FROM events WHERE org_id = :org_id ORDER BY customer_id
            """).execution_options(stream_results=True, yield_per=20_000),
        {"org_id": org_id},
    )
    seen: set[int] = set()
    pending: dict[int, list[EventFact]] = {}
    for row in rows:
        if row.customer_id not in customer_ids:
            continue
        if row.customer_id not in pending and len(pending) >= chunk_size:
            yield list(pending), pending
            seen.update(pending)
            pending = {}
        pending.setdefault(row.customer_id, []).append(
            EventFact(row.occurred_at, row.event_id, row.type, row.shop_id)
        )
    if pending:
        yield list(pending), pending
        seen.update(pending)
    without_events = sorted(customer_ids - seen)
    for start in range(0, len(without_events), chunk_size):
        yield without_events[start : start + chunk_size], {}


# --- stage intervals and milestones -------------------------------------------------------------


def intervals_of(
    db: Db, org_id: int, customer_ids: Sequence[int]
) -> dict[int, list[StageInterval]]:
    rows = db.execute(
        text("""
            SELECT customer_id, stage, valid_from, valid_to, reactivation FROM customer_stages
            WHERE org_id = :org_id AND customer_id = ANY(CAST(:ids AS bigint[]))
            ORDER BY customer_id, valid_from
            """),
        {"org_id": org_id, "ids": list(customer_ids)},
    )
    found: dict[int, list[StageInterval]] = {}
    for row in rows:
        found.setdefault(row.customer_id, []).append(
            StageInterval(Stage(row.stage), row.valid_from, row.valid_to, row.reactivation)
        )
    return found


def milestones_of(db: Db, org_id: int, customer_ids: Sequence[int]) -> dict[int, Milestones]:
    rows = db.execute(
        text("""
            SELECT customer_id, first_seen_at, prospect_at, customer_at, reactivations
            FROM customer_milestones
            WHERE org_id = :org_id AND customer_id = ANY(CAST(:ids AS bigint[]))
            """),
        {"org_id": org_id, "ids": list(customer_ids)},
    )
    return {
        row.customer_id: Milestones(
            row.first_seen_at, row.prospect_at, row.customer_at, row.reactivations
        )
        for row in rows
    }


def replace_journeys(db: Db, org_id: int, journeys: Mapping[int, Journey]) -> None:
    """Replace the intervals and milestones of the customers in `journeys` (an empty journey:
    the customer has no events any more)."""
    ids = sorted(journeys)
    if not ids:
        return
    params = {"org_id": org_id, "ids": ids}
    db.execute(
        text(
            "DELETE FROM customer_stages WHERE org_id = :org_id "
            "AND customer_id = ANY(CAST(:ids AS bigint[]))"
        ),
        params,
    )
    db.execute(
        text(
            "DELETE FROM customer_milestones WHERE org_id = :org_id "
            "AND customer_id = ANY(CAST(:ids AS bigint[]))"
        ),
        params,
    )
    stages: dict[str, list[Any]] = {"cid": [], "from": [], "to": [], "stage": [], "react": []}
    marks: dict[str, list[Any]] = {"cid": [], "seen": [], "prospect": [], "customer": [], "re": []}
    for customer_id in ids:
        journey = journeys[customer_id]
        for interval in journey.intervals:
            stages["cid"].append(customer_id)
            stages["from"].append(interval.valid_from)
            stages["to"].append(interval.valid_to)
            stages["stage"].append(interval.stage.value)
            stages["react"].append(interval.reactivation)
        milestones = journey.milestones
        if milestones.first_seen_at is not None:
            marks["cid"].append(customer_id)
            marks["seen"].append(milestones.first_seen_at)
            marks["prospect"].append(milestones.prospect_at)
            marks["customer"].append(milestones.customer_at)
            marks["re"].append(milestones.reactivations)
    if stages["cid"]:
        db.execute(
            text("""
                INSERT INTO customer_stages
                    (org_id, customer_id, valid_from, valid_to, stage, reactivation)
                SELECT :org_id, * FROM unnest(
                    CAST(:cid AS bigint[]), CAST(:from AS timestamptz[]),
                    CAST(:to AS timestamptz[]), CAST(:stage AS text[]), CAST(:react AS boolean[])
                )
                """),
            {"org_id": org_id, **stages},
        )
    if marks["cid"]:
        db.execute(
            text("""
                INSERT INTO customer_milestones
                    (org_id, customer_id, first_seen_at, prospect_at, customer_at, reactivations)
                SELECT :org_id, * FROM unnest(
                    CAST(:cid AS bigint[]), CAST(:seen AS timestamptz[]),
                    CAST(:prospect AS timestamptz[]), CAST(:customer AS timestamptz[]),
                    CAST(:re AS integer[])
                )
                """),
            {"org_id": org_id, **marks},
        )


def sync_lifecycle_stages(db: Db, org_id: int, customer_ids: Sequence[int] | None = None) -> int:
    """`customers.lifecycle_stage` := the derived stage now, for customers with a current interval
    (all of the organisation's, or those in `customer_ids`); returns how many changed."""
    only = "AND s.customer_id = ANY(CAST(:ids AS bigint[]))" if customer_ids is not None else ""
    return db.execute(
        text(f"""
            UPDATE customers c SET lifecycle_stage = s.stage
            FROM customer_stages s
            WHERE s.org_id = :org_id AND c.org_id = :org_id AND c.id = s.customer_id {only}
              AND s.valid_from <= now() AND (s.valid_to IS NULL OR s.valid_to > now())
              AND c.lifecycle_stage <> s.stage
            """),
        {"org_id": org_id, "ids": list(customer_ids or ())},
    ).rowcount


def customer_exists(db: Db, org_id: int, customer_id: int) -> bool:
    return db.execute(
        text("SELECT EXISTS (SELECT 1 FROM customers WHERE org_id = :org_id AND id = :id)"),
        {"org_id": org_id, "id": customer_id},
    ).scalar_one()


def customer_history(db: Db, org_id: int, customer_id: int) -> tuple[list[Any], Any, bool]:
    """(intervals, milestones or None, whether a rebuild is pending) of one customer."""
    params = {"org_id": org_id, "id": customer_id}
    intervals = (
        db.execute(
            text(
                "SELECT stage, valid_from, valid_to, reactivation FROM customer_stages "
                "WHERE org_id = :org_id AND customer_id = :id ORDER BY valid_from"
            ),
            params,
        )
        .mappings()
        .all()
    )
    milestones = (
        db.execute(
            text(
                "SELECT first_seen_at, prospect_at, customer_at, reactivations "
                "FROM customer_milestones WHERE org_id = :org_id AND customer_id = :id"
            ),
            params,
        )
        .mappings()
        .first()
    )
    pending = db.execute(
        text(
            "SELECT EXISTS (SELECT 1 FROM journey_pending "
            "WHERE org_id = :org_id AND customer_id = :id)"
        ),
        params,
    ).scalar_one()
    return list(intervals), milestones, pending


# --- rollups ------------------------------------------------------------------------------------


def apply_transition_deltas(db: Db, org_id: int, deltas: Mapping[TransitionKey, int]) -> None:
    """Add `deltas` to the daily transition counts; counts that reach 0 are removed. (Existing
    rows are updated first: an INSERT … ON CONFLICT checks the proposed row, a negative delta,
    against the CHECK before it finds the conflict.)"""
    keys = sorted(key for key, delta in deltas.items() if delta)
    if not keys:
        return
    params = {
        "org_id": org_id,
        "days": [k[0] for k in keys],
        "froms": [k[1] for k in keys],
        "tos": [k[2] for k in keys],
        "deltas": [deltas[k] for k in keys],
    }
    updated = db.execute(
        text("""
            UPDATE journey_daily_transitions t SET customers = t.customers + d.delta
            FROM unnest(
                CAST(:days AS date[]), CAST(:froms AS text[]), CAST(:tos AS text[]),
                CAST(:deltas AS integer[])
            ) AS d(day, from_stage, to_stage, delta)
            WHERE t.org_id = :org_id AND t.day = d.day AND t.from_stage = d.from_stage
              AND t.to_stage = d.to_stage
            RETURNING t.day, t.from_stage, t.to_stage
            """),
        params,
    )
    present = {(row.day, row.from_stage, row.to_stage) for row in updated}
    missing = [key for key in keys if key not in present]
    if missing:
        # A negative count here would mean the rollup had lost track: the CHECK refuses it.
        db.execute(
            text("""
                INSERT INTO journey_daily_transitions
                    (org_id, day, from_stage, to_stage, customers)
                SELECT :org_id, * FROM unnest(
                    CAST(:days AS date[]), CAST(:froms AS text[]), CAST(:tos AS text[]),
                    CAST(:deltas AS integer[])
                )
                """),
            {
                "org_id": org_id,
                "days": [k[0] for k in missing],
                "froms": [k[1] for k in missing],
                "tos": [k[2] for k in missing],
                "deltas": [deltas[k] for k in missing],
            },
        )
    db.execute(
        text(
            "DELETE FROM journey_daily_transitions WHERE org_id = :org_id AND customers = 0 "
            "AND day = ANY(CAST(:days AS date[]))"
        ),
        {"org_id": org_id, "days": sorted({k[0] for k in keys})},
    )


def rebuild_daily_stages(db: Db, org_id: int, from_day: date) -> None:
    """Recompute the daily stage counts from `from_day` on: the counts of the last stored day
    before it plus the running sum of the transitions, every day up to the last transition."""
    params = {"org_id": org_id, "from_day": from_day, "stages": STAGE_VALUES}
    db.execute(
        text("DELETE FROM journey_daily_stages WHERE org_id = :org_id AND day >= :from_day"),
        params,
    )
    db.execute(
        text("""
            WITH base_day AS (
                SELECT max(day) AS day FROM journey_daily_stages
                WHERE org_id = :org_id AND day < :from_day
            ),
            base AS (
                SELECT s.stage, s.customers FROM journey_daily_stages s, base_day
                WHERE s.org_id = :org_id AND s.day = base_day.day
            ),
            last_day AS (
                SELECT max(day) AS day FROM journey_daily_transitions WHERE org_id = :org_id
            ),
            days AS (
                SELECT CAST(d AS date) AS day
                FROM last_day, generate_series(
                    CAST(:from_day AS date), last_day.day, interval '1 day'
                ) AS d
            ),
            stages AS (SELECT unnest(CAST(:stages AS text[])) AS stage),
            moves AS (
                SELECT day, to_stage AS stage, customers AS delta
                FROM journey_daily_transitions WHERE org_id = :org_id AND day >= :from_day
                UNION ALL
                SELECT day, from_stage, -customers
                FROM journey_daily_transitions
                WHERE org_id = :org_id AND day >= :from_day AND from_stage <> 'new'
            ),
            daily AS (
                SELECT days.day, stages.stage, COALESCE(sum(moves.delta), 0) AS delta
                FROM days CROSS JOIN stages
                LEFT JOIN moves ON moves.day = days.day AND moves.stage = stages.stage
                GROUP BY days.day, stages.stage
            )
            INSERT INTO journey_daily_stages (org_id, day, stage, customers)
            SELECT :org_id, daily.day, daily.stage,
                   COALESCE(base.customers, 0)
                   + sum(daily.delta) OVER (PARTITION BY daily.stage ORDER BY daily.day)
            FROM daily LEFT JOIN base ON base.stage = daily.stage
            """),
        params,
    )


def recompute_transitions(db: Db, org_id: int) -> date | None:
    """Replace the daily transitions with a full recomputation from the stored intervals (each
    customer's stage at the end of every day on which an interval begins); returns the first
    day of either the old or the new rollup, from which the daily counts need rebuilding."""
    params = {"org_id": org_id}
    first_old = db.execute(
        text("SELECT min(day) FROM journey_daily_transitions WHERE org_id = :org_id"), params
    ).scalar_one()
    db.execute(text("DELETE FROM journey_daily_transitions WHERE org_id = :org_id"), params)
    db.execute(
        text("""
            WITH day_ends AS (
                SELECT DISTINCT ON (customer_id, CAST(valid_from AT TIME ZONE 'UTC' AS date))
                       customer_id, CAST(valid_from AT TIME ZONE 'UTC' AS date) AS day, stage
                FROM customer_stages WHERE org_id = :org_id
                ORDER BY customer_id, CAST(valid_from AT TIME ZONE 'UTC' AS date),
                         valid_from DESC
            ),
            moves AS (
                SELECT day, stage AS to_stage,
                       COALESCE(lag(stage) OVER (PARTITION BY customer_id ORDER BY day), 'new')
                       AS from_stage
                FROM day_ends
            )
            INSERT INTO journey_daily_transitions (org_id, day, from_stage, to_stage, customers)
            SELECT :org_id, day, from_stage, to_stage, count(*) FROM moves
            WHERE from_stage <> to_stage
            GROUP BY day, from_stage, to_stage
            """),
        params,
    )
    first_new = db.execute(
        text("SELECT min(day) FROM journey_daily_transitions WHERE org_id = :org_id"), params
    ).scalar_one()
    firsts = [day for day in (first_old, first_new) if day is not None]
    return min(firsts) if firsts else None


def daily_stage_counts(db: Db, org_id: int, days: Sequence[date]) -> dict[date, dict[str, int]]:
    """Customers per stage at the end of each of `days`, from the daily rollup (a day after the
    last stored one has its counts; a day before the first has none). One range read: the
    stored days from the last one at or before the first day asked, to the last day asked."""
    if not days:
        return {}
    rows = db.execute(
        text("""
            SELECT day, stage, customers FROM journey_daily_stages
            WHERE org_id = :org_id AND day <= :last
              AND day >= COALESCE(
                  (SELECT max(day) FROM journey_daily_stages
                   WHERE org_id = :org_id AND day <= :first),
                  :first)
            ORDER BY day
            """),
        {"org_id": org_id, "first": min(days), "last": max(days)},
    )
    stored: dict[date, dict[str, int]] = {}
    for row in rows:
        stored.setdefault(row.day, {})[row.stage] = row.customers
    counts: dict[date, dict[str, int]] = {}
    stored_days = sorted(stored)
    index = -1
    for day in sorted(set(days)):
        while index + 1 < len(stored_days) and stored_days[index + 1] <= day:
            index += 1
        if index >= 0:
            counts[day] = stored[stored_days[index]]
    return counts


# --- "as of" questions --------------------------------------------------------------------------

_AT = "valid_from <= {at} AND (valid_to IS NULL OR valid_to > {at})"


def stage_counts_at(db: Db, org_id: int, at: datetime) -> dict[str, int]:
    rows = db.execute(
        text(
            "SELECT stage, count(*) AS customers FROM customer_stages "
            f"WHERE org_id = :org_id AND {_AT.format(at=':at')} GROUP BY stage"
        ),
        {"org_id": org_id, "at": at},
    )
    return {row.stage: row.customers for row in rows}


def flows(db: Db, org_id: int, start: datetime, end: datetime) -> list[Any]:
    """Customers per (stage at `start` or "new", stage at `end`)."""
    return list(
        db.execute(
            text(f"""
                WITH at_start AS (
                    SELECT customer_id, stage FROM customer_stages
                    WHERE org_id = :org_id AND {_AT.format(at=':start')}
                ),
                at_end AS (
                    SELECT customer_id, stage FROM customer_stages
                    WHERE org_id = :org_id AND {_AT.format(at=':end')}
                )
                SELECT COALESCE(s.stage, 'new') AS from_stage, e.stage AS to_stage,
                       count(*) AS customers
                FROM at_end e LEFT JOIN at_start s USING (customer_id)
                GROUP BY 1, 2
                """),
            {"org_id": org_id, "start": start, "end": end},
        ).mappings()
    )


@dataclass(frozen=True)
class FunnelStep:
    customers: int
    median_seconds: float | None
    p90_seconds: float | None


def funnel(
    db: Db, org_id: int, start: datetime, end: datetime, within_seconds: float | None
) -> dict[str, FunnelStep]:
    """Of the customers first seen in [start, end): how many reached prospect and customer
    (within `within_seconds` of being first seen, when given), and how long it took."""
    row = (
        db.execute(
            text("""
                WITH cohort AS (
                    SELECT extract(epoch FROM prospect_at - first_seen_at) AS to_prospect,
                           extract(epoch FROM customer_at - first_seen_at) AS to_customer
                    FROM customer_milestones
                    WHERE org_id = :org_id AND first_seen_at >= :start AND first_seen_at < :end
                ),
                reached AS (
                    SELECT
                        CASE WHEN CAST(:within AS double precision) IS NULL
                             OR to_prospect <= :within THEN to_prospect END AS to_prospect,
                        CASE WHEN CAST(:within AS double precision) IS NULL
                             OR to_customer <= :within THEN to_customer END AS to_customer
                    FROM cohort
                )
                SELECT count(*) AS leads,
                       count(to_prospect) AS prospects,
                       count(to_customer) AS customers,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY to_prospect) AS prospect_p50,
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY to_prospect) AS prospect_p90,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY to_customer) AS customer_p50,
                       percentile_cont(0.9) WITHIN GROUP (ORDER BY to_customer) AS customer_p90
                FROM reached
                """),
            {"org_id": org_id, "start": start, "end": end, "within": within_seconds},
        )
        .mappings()
        .one()
    )

    def seconds(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        Stage.lead.value: FunnelStep(row["leads"], None, None),
        Stage.prospect.value: FunnelStep(
            row["prospects"], seconds(row["prospect_p50"]), seconds(row["prospect_p90"])
        ),
        Stage.customer.value: FunnelStep(
            row["customers"], seconds(row["customer_p50"]), seconds(row["customer_p90"])
        ),
    }


def orgs(db: Db) -> list[int]:
    return [row.id for row in db.execute(text("SELECT id FROM organizations ORDER BY id"))]
