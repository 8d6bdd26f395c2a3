"""Helpers for health tests: run a queued `health` job or a recompute in the test's own
transaction (rolled back afterwards), add events, and the score computed by hand from the
README's formula (plain Python over the rows a test created, nothing from spendlens.health)."""

from __future__ import annotations

import uuid
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from spendlens.health.job import execute_recompute
from spendlens.health.service import recompute
from spendlens.jobs.runner import Progress, execute_job
from spendlens.models import Customer, Event, Organization

HEALTH = "/api/v1/health"

# The README's constants ("Customer health"), written out again here on purpose.
NAMES = (
    "recency",
    "purchase_frequency_trend",
    "spend_trend",
    "login_frequency",
    "feature_adoption",
    "open_support_tickets",
    "failed_payments",
)
DEFAULT_WEIGHTS = {
    "recency": 0.25,
    "purchase_frequency_trend": 0.15,
    "spend_trend": 0.15,
    "login_frequency": 0.15,
    "feature_adoption": 0.10,
    "open_support_tickets": 0.10,
    "failed_payments": 0.10,
}


def store(connection: Connection, org_id: int, as_of: date) -> dict:
    with connection.begin_nested():
        return recompute(connection, org_id, as_of)


def run_health_job_here(connection: Connection, org_id: int, job_id: int):
    progress = Progress(lambda: nullcontext(connection), org_id, job_id)
    with connection.begin_nested():
        return execute_job(connection, progress, org_id, job_id, execute_recompute)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=UTC)


def add_event(
    session: Session,
    org: Organization,
    customer: Customer,
    type_: str,
    occurred_at: datetime,
    **properties,
) -> None:
    session.add(
        Event(
            org_id=org.id,
            event_id=uuid.uuid4(),
            customer_id=customer.id,
            type=type_,
            occurred_at=occurred_at,
            properties=properties,
        )
    )
    session.flush()


@dataclass
class Facts:
    """What a test created for one customer, as plain data."""

    transactions: list[tuple[datetime, Decimal, str, str]] = field(default_factory=list)
    # (occurred_at, amount, kind, currency)
    events: list[tuple[datetime, str, dict]] = field(default_factory=list)


def by_hand(
    facts: Facts,
    as_of: date,
    *,
    currency: str,
    org_tracks: set[str],
    weights: dict[str, float] = DEFAULT_WEIGHTS,
) -> tuple[float | None, dict[str, tuple[float | None, float | None]]]:
    """(score, {component: (value, normalized)}) from the README's formulas; `org_tracks` holds
    the event types the organisation has on or before the day."""
    end = datetime.combine(as_of + timedelta(days=1), time.min, tzinfo=UTC)

    def since(days: int) -> datetime:
        return end - timedelta(days=days)

    mine = [t for t in facts.transactions if t[3] == currency and t[0] < end]
    purchases = [t for t in mine if t[2] == "purchase"]
    parts: dict[str, tuple[float | None, float | None]] = {}
    if purchases:
        days = (as_of - max(t[0] for t in purchases).date()).days
        parts["recency"] = (days, 1 - min(days, 180) / 180)
    else:
        parts["recency"] = (None, None)
    recent = sum(1 for t in purchases if t[0] >= since(90))
    previous = sum(1 for t in purchases if since(180) <= t[0] < since(90))
    if recent + previous:
        parts["purchase_frequency_trend"] = (recent - previous, recent / (recent + previous))
    else:
        parts["purchase_frequency_trend"] = (None, None)
    recent_spend = max(sum((t[1] for t in mine if t[0] >= since(90)), Decimal(0)), Decimal(0))
    previous_spend = max(
        sum((t[1] for t in mine if since(180) <= t[0] < since(90)), Decimal(0)), Decimal(0)
    )
    if recent_spend + previous_spend > 0:
        parts["spend_trend"] = (
            float(recent_spend - previous_spend),
            float(recent_spend / (recent_spend + previous_spend)),
        )
    else:
        parts["spend_trend"] = (None, None)
    events = [e for e in facts.events if e[0] < end]
    if "login" in org_tracks:
        n = sum(1 for e in events if e[1] == "login" and e[0] >= since(30))
        parts["login_frequency"] = (n, min(n, 12) / 12)
    else:
        parts["login_frequency"] = (None, None)
    if "feature_used" in org_tracks:
        n = len({e[2]["feature"] for e in events if e[1] == "feature_used" and e[0] >= since(90)})
        parts["feature_adoption"] = (n, min(n, 5) / 5)
    else:
        parts["feature_adoption"] = (None, None)
    if org_tracks & {"support_ticket_opened", "support_ticket_closed"}:
        tickets: dict[str, dict[str, datetime]] = {}
        for moment, kind, props in events:
            if kind in ("support_ticket_opened", "support_ticket_closed"):
                seen = tickets.setdefault(str(props["ticket_id"]), {})
                seen[kind] = max(seen.get(kind, moment), moment)
        n = sum(
            1
            for t in tickets.values()
            if "support_ticket_opened" in t
            and (
                "support_ticket_closed" not in t
                or t["support_ticket_closed"] < t["support_ticket_opened"]
            )
        )
        parts["open_support_tickets"] = (n, 1 - min(n, 3) / 3)
    else:
        parts["open_support_tickets"] = (None, None)
    if org_tracks & {"payment_failed", "payment_succeeded"}:
        n = sum(1 for e in events if e[1] == "payment_failed" and e[0] >= since(90))
        parts["failed_payments"] = (n, 1 - min(n, 3) / 3)
    else:
        parts["failed_payments"] = (None, None)
    available = [name for name in NAMES if parts[name][1] is not None]
    total_weight = sum(weights[name] for name in available)
    if total_weight == 0:
        return None, parts
    score = sum(100 * weights[name] / total_weight * parts[name][1] for name in available)
    return score, parts
