"""Business rules of the customer journey around the stage rules (spendlens.journey.rules):
rebuilding customers' stages when their events change (the `journey` job, queued after an ingest),
the daily rollups kept in step incrementally, the churn setting, and the questions the API asks
(stages as of an instant, the time series, the funnel, the flows)."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from spendlens import tenancy
from spendlens.errors import NotFound, Unprocessable
from spendlens.jobs.registry import enqueue
from spendlens.journey import repository
from spendlens.journey.repository import TransitionKey
from spendlens.journey.rules import (
    DEFAULT_CHURN_AFTER_DAYS,
    STAGE_ORDER,
    EventFact,
    Journey,
    Milestones,
    StageInterval,
    derive_journey,
)
from spendlens.journey.schemas import (
    CustomerStagesOut,
    FlowLink,
    FlowNode,
    FlowsOut,
    FunnelOut,
    FunnelStepOut,
    JourneySettingsOut,
    StageCount,
    StagesOut,
    StagesTimeseries,
    StagesTimeseriesPoint,
)
from spendlens.kit.dates import EARLIEST_DAY, LATEST_DAY, today_utc
from spendlens.kit.ratios import ratio_or_none, share_of
from spendlens.metrics.schemas import Interval, Period
from spendlens.metrics.service import bucket_days, point_count
from spendlens.models import User

logger = logging.getLogger("spendlens.journey")

JOB_KIND = "journey"
NEW = "new"
# Customers rebuilt per round trip of the rebuild (their events are read in one query).
REBUILD_CHUNK = 2000
TIMESERIES_MONTHS = 12
MAX_POINTS = 3660
FUNNEL_DAYS = 90
FLOW_DAYS = 30
# Advisory-lock namespace of "writing an organisation's stages and rollups".
_ROLLUP_LOCK_CLASS = 0x10E7


# --- instants -----------------------------------------------------------------------------------


def end_of_day(day: date) -> datetime:
    """The last instant of a UTC day (timestamps have microseconds)."""
    return datetime.combine(day, time.max, tzinfo=UTC)


def start_of_day(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def given_day(value: str) -> date | None:
    """The day `value` names when it is a date alone (then it means that day's end)."""
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def parse_instant(value: str, name: str) -> datetime:
    """A query's instant: a date (YYYY-MM-DD) means the end of that UTC day; a date and time
    without an offset is UTC."""
    problem = (
        f"{name} must be a date (YYYY-MM-DD, the end of that UTC day) or an ISO 8601 date "
        f"and time, between {EARLIEST_DAY} and {LATEST_DAY}"
    )
    day = given_day(value)
    try:
        if day is not None:
            instant = end_of_day(day)
        else:
            instant = datetime.fromisoformat(
                value.strip().replace("Z", "+00:00").replace("z", "+00:00")
            )
            if not EARLIEST_DAY <= instant.date() <= LATEST_DAY:
                raise ValueError
            instant = instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant
            instant = instant.astimezone(UTC)
    except (ValueError, OverflowError):
        raise Unprocessable(problem, loc=("query", name)) from None
    if not EARLIEST_DAY <= instant.date() <= LATEST_DAY:
        raise Unprocessable(problem, loc=("query", name))
    return instant


def now_utc() -> datetime:
    return datetime.now(UTC)


# --- settings -----------------------------------------------------------------------------------


def churn_after_days(db: Session | Connection, org_id: int) -> int:
    settings = repository.get_settings(db, org_id)
    return settings["churn_after_days"] if settings else DEFAULT_CHURN_AFTER_DAYS


def get_settings(session: Session, org_id: int) -> JourneySettingsOut:
    settings = repository.get_settings(session, org_id)
    if settings is None:
        return JourneySettingsOut(churn_after_days=DEFAULT_CHURN_AFTER_DAYS)
    return JourneySettingsOut(**settings)


def update_settings(
    session: Session, org_id: int, user: User, churn_after_days_value: int
) -> JourneySettingsOut:
    """Store the setting; when it changed, every customer with events is rebuilt (a job)."""
    before = churn_after_days(session, org_id)
    settings = repository.put_settings(session, org_id, churn_after_days_value, user.id)
    job_id = None
    if before != churn_after_days_value:
        job_id = queue_full_rebuild(
            session.connection(), org_id, trigger="settings", created_by=user.id
        )
    return JourneySettingsOut(**settings, rebuild_job_id=job_id)


# --- rebuilding -----------------------------------------------------------------------------------


def day_path(intervals: list[StageInterval]) -> list[tuple[date, str]]:
    """The customer's stage at the end of each UTC day on which it changed (the last interval
    starting on a day is the stage at its end)."""
    path: list[tuple[date, str]] = []
    for interval in intervals:
        day = interval.valid_from.astimezone(UTC).date()
        if path and path[-1][0] == day:
            path.pop()
        path.append((day, interval.stage.value))
    return path


def day_transitions(intervals: list[StageInterval]) -> list[TransitionKey]:
    """(day, stage at the end of the day before or "new", stage at the end of the day) for every
    day on which the customer's end-of-day stage changed."""
    moves = []
    previous = NEW
    for day, stage in day_path(intervals):
        if stage != previous:
            moves.append((day, previous, stage))
            previous = stage
    return moves


@dataclass
class RebuildResult:
    customers: int = 0
    changed_customers: int = 0
    intervals: int = 0
    changed_days: int = 0
    first_changed_day: date | None = None
    lifecycle_updates: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "customers": self.customers,
            "changed_customers": self.changed_customers,
            "intervals": self.intervals,
            "changed_days": self.changed_days,
            "first_changed_day": (
                self.first_changed_day.isoformat() if self.first_changed_day else None
            ),
            "lifecycle_updates": self.lifecycle_updates,
        }


@dataclass
class Tuning:
    """From how many customers a rebuild reads the organisation's events in one pass (in
    customer order) rather than by an index probe per customer and monthly partition."""

    full_scan_customers: int = 20_000


tuning = Tuning()


def _event_chunks(
    conn: Connection, org_id: int, ids: list[int]
) -> Iterator[tuple[list[int], dict[int, list[EventFact]]]]:
    if len(ids) >= tuning.full_scan_customers:
        yield from repository.events_streamed(conn, org_id, set(ids), REBUILD_CHUNK)
        return
    for start in range(0, len(ids), REBUILD_CHUNK):
        chunk = ids[start : start + REBUILD_CHUNK]
        yield chunk, repository.events_of(conn, org_id, chunk)


def rebuild_customers(conn: Connection, org_id: int, customer_ids: Iterable[int]) -> RebuildResult:
    """Derive the stage history of each customer from all of their events again, replace the
    stored one, move the rollups by the difference and set `customers.lifecycle_stage`."""
    ids = sorted(set(customer_ids))
    lock_rollups(conn, org_id)
    days = churn_after_days(conn, org_id)
    result = RebuildResult()
    deltas: Counter[TransitionKey] = Counter()
    for chunk, events in _event_chunks(conn, org_id, ids):
        old = repository.intervals_of(conn, org_id, chunk)
        old_milestones = repository.milestones_of(conn, org_id, chunk)
        changed_journeys: dict[int, Journey] = {}
        for customer_id in chunk:
            journey = derive_journey(events.get(customer_id, ()), days)
            result.intervals += len(journey.intervals)
            before = old.get(customer_id, [])
            if journey.intervals != before:
                deltas.subtract(day_transitions(before))
                deltas.update(day_transitions(journey.intervals))
            elif journey.milestones == old_milestones.get(customer_id, Milestones()):
                continue  # e.g. a login: nothing to write
            changed_journeys[customer_id] = journey
        repository.replace_journeys(conn, org_id, changed_journeys)
        result.customers += len(chunk)
        result.changed_customers += len(changed_journeys)
    changed = {key: delta for key, delta in deltas.items() if delta}
    if changed:
        repository.apply_transition_deltas(conn, org_id, changed)
        first = min(day for day, _, _ in changed)
        repository.rebuild_daily_stages(conn, org_id, first)
        result.first_changed_day = first
        result.changed_days = len({day for day, _, _ in changed})
    result.lifecycle_updates = repository.sync_lifecycle_stages(conn, org_id, ids)
    return result


def run_pending(conn: Connection, org_id: int) -> RebuildResult:
    """The `journey` job: rebuild every customer marked pending, then take their marks away
    (a mark renewed by an ingest meanwhile stays for the next job)."""
    taken = repository.read_pending(conn, org_id)
    result = rebuild_customers(conn, org_id, [customer_id for customer_id, _ in taken])
    repository.clear_pending(conn, org_id, taken)
    return result


def lock_rollups(conn: Connection, org_id: int) -> None:
    """Until the transaction ends, be the only writer of the organisation's stages and rollups
    (the `journey` jobs already run one at a time; this keeps the nightly reconciliation out)."""
    conn.execute(
        text("SELECT pg_advisory_xact_lock(:space, CAST(:org_id % 2147483647 AS integer))"),
        {"space": _ROLLUP_LOCK_CLASS, "org_id": org_id},
    )


def recompute_rollups(conn: Connection, org_id: int) -> date | None:
    """Both rollups recomputed in full from the stored intervals (the nightly reconciliation:
    it also drops what deleted customers left in them); returns the first day rebuilt."""
    lock_rollups(conn, org_id)
    first = repository.recompute_transitions(conn, org_id)
    if first is not None:
        repository.rebuild_daily_stages(conn, org_id, first)
    return first


def queue_full_rebuild(
    conn: Connection, org_id: int, *, trigger: str, created_by: int | None = None
) -> int:
    """Mark every customer with events and queue a `journey` job for them."""
    repository.pend_every_customer_with_events(conn, org_id)
    return enqueue(conn, org_id, JOB_KIND, {"trigger": trigger}, created_by=created_by)


def rebuild_everyone(conn: Connection, org_id: int) -> RebuildResult:
    """Every customer with events rebuilt at once, here (for the demo seed and the CLI)."""
    repository.pend_every_customer_with_events(conn, org_id)
    return run_pending(conn, org_id)


def stages_changed(conn: Connection, org_id: int, customer_ids: Iterable[int]) -> int | None:
    """The hook the event ingest calls after storing a batch: mark the customers whose events
    changed and queue a `journey` job unless one is already waiting to start (it will see these
    marks too). Returns the id of the job queued, if any."""
    if not repository.add_pending(conn, org_id, customer_ids):
        return None
    if repository.latest_job_state(conn, org_id, JOB_KIND) == "queued":
        return None
    return enqueue(conn, org_id, JOB_KIND, {"trigger": "events"})


def queue_if_pending(conn: Connection, org_id: int) -> int | None:
    """Queue a `journey` job when customers are pending and no job is waiting or running (the
    safety net of the periodic task and of a job that finds new marks at its end)."""
    if not repository.has_pending(conn, org_id):
        return None
    if repository.latest_job_state(conn, org_id, JOB_KIND) in ("queued", "running"):
        return None
    return enqueue(conn, org_id, JOB_KIND, {"trigger": "pending"})


def set_org(conn: Connection, org_id: int) -> None:
    """The organisation of this transaction (row-level security; spendlens.tenancy)."""
    tenancy.set_org(conn, org_id)


# --- questions ----------------------------------------------------------------------------------


def _stage_counts(counts: dict[str, int]) -> tuple[list[StageCount], int]:
    total = sum(counts.values())
    return [
        StageCount(
            stage=stage.value,
            customers=counts.get(stage.value, 0),
            share=share_of(counts.get(stage.value, 0), total),
        )
        for stage in STAGE_ORDER
    ], total


def stages_as_of(session: Session, org_id: int, as_of: str | None) -> StagesOut:
    """At a day's end (`as_of` a date) from the daily rollup, written with the intervals in one
    transaction and equal to them; at any other instant from the intervals."""
    at = parse_instant(as_of, "as_of") if as_of is not None else now_utc()
    if as_of is not None and given_day(as_of) is not None:
        day = at.date()
        counts = repository.daily_stage_counts(session, org_id, [day]).get(day, {})
    else:
        counts = repository.stage_counts_at(session, org_id, at)
    stages, total = _stage_counts(counts)
    return StagesOut(as_of=at, total=total, stages=stages)


def customer_stages(session: Session, org_id: int, customer_id: int) -> CustomerStagesOut:
    if not repository.customer_exists(session, org_id, customer_id):
        raise NotFound("Customer not found")
    intervals, milestones, pending = repository.customer_history(session, org_id, customer_id)
    now = now_utc()
    current = next(
        (
            row["stage"]
            for row in intervals
            if row["valid_from"] <= now and (row["valid_to"] is None or row["valid_to"] > now)
        ),
        None,
    )
    return CustomerStagesOut(
        customer_id=customer_id,
        stage=current,
        pending=pending,
        first_seen_at=milestones["first_seen_at"] if milestones else None,
        prospect_at=milestones["prospect_at"] if milestones else None,
        customer_at=milestones["customer_at"] if milestones else None,
        reactivations=milestones["reactivations"] if milestones else 0,
        items=[dict(row) for row in intervals],
    )


def _period(start: date | None, end: date | None, default_days: int | None) -> Period:
    """The UTC days asked for; missing bounds: up to today, `default_days` long (None: the
    calendar months of the time series)."""
    today = today_utc()
    if start is not None and end is not None and start > end:
        raise Unprocessable("start must not be after end", loc=("query", "start"))
    if default_days is None:
        if start is None:
            last = end or today
            index = last.year * 12 + last.month - 1 - (TIMESERIES_MONTHS - 1)
            start = date(index // 12, index % 12 + 1, 1)
        end = end or max(today, start)
    else:
        if end is None:
            end = max(today, start) if start is not None else today
        if start is None:
            start = end - timedelta(days=default_days - 1)
    if start < EARLIEST_DAY:
        start = EARLIEST_DAY
    return Period(start_date=start, end_date=end)


def _period_last_day(period_start: date, interval: Interval) -> date:
    if interval is Interval.day:
        return period_start
    if interval is Interval.week:
        return period_start + timedelta(days=6)
    year, month = divmod(period_start.month, 12)
    return date(period_start.year + year, month + 1, 1) - timedelta(days=1)


def _period_starts(period: Period, interval: Interval) -> list[date]:
    first = period.start_date
    if interval is Interval.week:
        first = first - timedelta(days=first.weekday())
    elif interval is Interval.month:
        first = first.replace(day=1)
    starts = []
    current = first
    while current <= period.end_date:
        starts.append(current)
        current = _period_last_day(current, interval) + timedelta(days=1)
    return starts


def timeseries(
    session: Session, org_id: int, interval: Interval, start: date | None, end: date | None
) -> StagesTimeseries:
    """Customers per stage at the end of each period (the range's last day for a period the
    range cuts short), from the daily rollup."""
    period = _period(start, end, None)
    points = point_count(period, interval)
    if points > MAX_POINTS:
        raise Unprocessable(
            f"The range makes {points} {interval.value} points; at most {MAX_POINTS} are allowed",
            loc=("query", "interval"),
        )
    starts = _period_starts(period, interval)
    as_of_days = [min(_period_last_day(s, interval), period.end_date) for s in starts]
    counts = repository.daily_stage_counts(session, org_id, as_of_days)
    out = []
    for period_start, as_of_day in zip(starts, as_of_days):
        day_counts = counts.get(as_of_day, {})
        days, partial = bucket_days(period_start, period, interval)
        values = {stage.value: day_counts.get(stage.value, 0) for stage in STAGE_ORDER}
        out.append(
            StagesTimeseriesPoint(
                period_start=period_start,
                as_of=as_of_day,
                days=days,
                partial=partial,
                total=sum(values.values()),
                **values,
            )
        )
    return StagesTimeseries(
        interval=interval, start=period.start_date, end=period.end_date, points=out
    )


def funnel(
    session: Session,
    org_id: int,
    start: date | None,
    end: date | None,
    within_days: int | None,
) -> FunnelOut:
    period = _period(start, end, FUNNEL_DAYS)
    steps = repository.funnel(
        session,
        org_id,
        start_of_day(period.start_date),
        start_of_day(period.end_date + timedelta(days=1)),
        within_days * 86400.0 if within_days is not None else None,
    )
    leads = steps["lead"].customers
    out = []
    previous = None
    for stage, step in steps.items():
        out.append(
            FunnelStepOut(
                stage=stage,
                customers=step.customers,
                conversion=(None if previous is None else ratio_or_none(step.customers, previous)),
                conversion_from_lead=ratio_or_none(step.customers, leads),
                median_seconds=step.median_seconds,
                p90_seconds=step.p90_seconds,
            )
        )
        previous = step.customers
    return FunnelOut(
        start=period.start_date, end=period.end_date, within_days=within_days, steps=out
    )


def flows(session: Session, org_id: int, start: str | None, end: str | None) -> FlowsOut:
    end_at = parse_instant(end, "end") if end is not None else now_utc()
    if start is not None:
        start_at = parse_instant(start, "start")
    else:
        start_at = end_at - timedelta(days=FLOW_DAYS)
    if start_at >= end_at:
        raise Unprocessable("start must be before end", loc=("query", "start"))
    rows = repository.flows(session, org_id, start_at, end_at)
    order = {name: index for index, name in enumerate([NEW, *(s.value for s in STAGE_ORDER)])}
    links = sorted(
        (FlowLink(**row) for row in rows),
        key=lambda link: (order[link.from_stage], order[link.to_stage]),
    )
    start_nodes: Counter[str] = Counter()
    end_nodes: Counter[str] = Counter()
    for link in links:
        start_nodes[link.from_stage] += link.customers
        end_nodes[link.to_stage] += link.customers
    nodes = [
        FlowNode(side="start", stage=name, customers=start_nodes[name])
        for name in order
        if start_nodes[name]
    ] + [
        FlowNode(side="end", stage=name, customers=end_nodes[name])
        for name in order
        if end_nodes[name]
    ]
    return FlowsOut(
        start=start_at, end=end_at, total=sum(end_nodes.values()), nodes=nodes, links=links
    )
