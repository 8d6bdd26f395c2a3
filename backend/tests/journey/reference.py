"""The reference for the customer journey: the documented stage rules written again in plain
Python as point-in-time questions over the event log the test generated (a replay of the events up
to the instant asked about), sharing no code with spendlens.journey."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any


@dataclass(frozen=True)
class Ev:
    customer: str  # external id
    event_id: str
    type: str
    occurred_at: datetime
    properties: dict[str, Any] = field(default_factory=dict)


def first_sent(sent: list[Ev]) -> list[Ev]:
    """What is stored: the first sending of each event id wins, whatever changed later."""
    seen: dict[str, Ev] = {}
    for ev in sent:
        seen.setdefault(ev.event_id, ev)
    return list(seen.values())


def by_customer(events: list[Ev]) -> dict[str, list[Ev]]:
    out: dict[str, list[Ev]] = {}
    for ev in events:
        out.setdefault(ev.customer, []).append(ev)
    for evs in out.values():
        evs.sort(key=lambda e: (e.occurred_at, e.event_id))
    return out


def replay(evs: list[Ev], until: datetime | None, churn_days: int) -> tuple[str | None, dict]:
    """The stage after every event at or before `until` (None: all, deadline included), and the
    moments the customer first reached each stage."""
    window = timedelta(days=churn_days)
    stage = None
    shops: set[str] = set()
    paid_at = None
    reached: dict[str, datetime] = {}

    def become(new: str, at: datetime) -> None:
        nonlocal stage
        stage = new
        reached.setdefault(new, at)
        if new == "customer":
            reached.setdefault("prospect", at)

    for ev in evs:
        if until is not None and ev.occurred_at > until:
            break
        if stage == "customer" and paid_at is not None and paid_at + window < ev.occurred_at:
            become("churned", paid_at + window)
        if stage is None:
            become("lead", ev.occurred_at)
        if ev.type in ("plan_selected", "shop_created"):
            if ev.type == "shop_created":
                shops.add(ev.properties["shop_id"])
            if stage == "lead":
                become("prospect", ev.occurred_at)
        elif ev.type == "payment_succeeded":
            paid_at = ev.occurred_at
            become("customer", ev.occurred_at)
        elif ev.type == "shop_deleted":
            shop = ev.properties["shop_id"]
            if shop in shops:
                shops.remove(shop)
                if not shops and stage != "churned":
                    become("churned", ev.occurred_at)
        elif ev.type == "account_deleted":
            shops.clear()
            if stage != "churned":
                become("churned", ev.occurred_at)
    if stage == "customer" and paid_at is not None:
        deadline = paid_at + window
        if until is None or deadline <= until:
            become("churned", deadline)
    return stage, reached


def end_of(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=UTC)


def stage_counts(customers: dict[str, list[Ev]], at: datetime, churn_days: int) -> Counter:
    counts: Counter = Counter()
    for evs in customers.values():
        stage, _ = replay(evs, at, churn_days)
        if stage is not None:
            counts[stage] += 1
    return counts


def flows(
    customers: dict[str, list[Ev]], start: datetime, end: datetime, churn_days: int
) -> Counter:
    links: Counter = Counter()
    for evs in customers.values():
        before, _ = replay(evs, start, churn_days)
        after, _ = replay(evs, end, churn_days)
        if after is not None:
            links[(before or "new", after)] += 1
    return links


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont)."""
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def funnel(
    customers: dict[str, list[Ev]],
    first_day: date,
    last_day: date,
    within_days: int | None,
    churn_days: int,
) -> dict[str, dict[str, Any]]:
    cohort = 0
    times: dict[str, list[float]] = {"prospect": [], "customer": []}
    for evs in customers.values():
        signup = evs[0].occurred_at
        if not first_day <= signup.astimezone(UTC).date() <= last_day:
            continue
        cohort += 1
        _, reached = replay(evs, None, churn_days)
        for step in ("prospect", "customer"):
            if step in reached:
                took = (reached[step] - signup).total_seconds()
                if within_days is None or took <= within_days * 86400:
                    times[step].append(took)
    return {
        "lead": {"customers": cohort},
        **{
            step: {
                "customers": len(values),
                "median": percentile(values, 0.5),
                "p90": percentile(values, 0.9),
            }
            for step, values in times.items()
        },
    }
