"""Business rules of alerts: managing rules and their destinations, evaluating rules over the
customers' signals (one alert per problem), acknowledging and resolving, and escalation."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy import Connection, Row
from sqlalchemy.orm import Session

from spendlens.alerts import repository
from spendlens.alerts.definitions import RuleKind
from spendlens.alerts.delivery import refused_literal_address
from spendlens.alerts.schemas import (
    AlertFeed,
    AlertOut,
    AlertState,
    DeliveryOut,
    RuleIn,
    RuleOut,
    WebhookOut,
)
from spendlens.alerts.signals import CustomerSignals
from spendlens.config import Settings, get_settings
from spendlens.errors import Conflict, NotFound, Unprocessable
from spendlens.jobs.registry import enqueue
from spendlens.models import User
from spendlens.tenancy import set_org

JOB_KIND = "alerts.evaluate"
Trigger = Literal["api", "schedule", "health"]
Executor = Session | Connection


# --- rules ------------------------------------------------------------------------------------


def generate_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _rule_out(rule: Row, dests: list[Row], shown: dict[int, str] | None = None) -> RuleOut:
    shown = shown or {}
    return RuleOut(
        id=rule.id,
        name=rule.name,
        kind=rule.kind,
        params=rule.params,
        severity=rule.severity,
        enabled=rule.enabled,
        cooldown_minutes=rule.cooldown_minutes,
        escalation_minutes=rule.escalation_minutes,
        escalation_emails=list(rule.escalation_emails),
        webhooks=[
            WebhookOut(id=d.id, url=d.target, secret=shown.get(d.id))
            for d in dests
            if d.channel == "webhook"
        ],
        emails=[d.target for d in dests if d.channel == "email"],
        created_at=rule.created_at,
        updated_at=rule.updated_at,
    )


def list_rules(db: Executor, org_id: int, *, skip: int, limit: int) -> tuple[list[RuleOut], int]:
    rows, total = repository.list_rules(db, org_id, skip=skip, limit=limit)
    dests = repository.rule_destinations(db, org_id, [r.id for r in rows])
    return [_rule_out(r, [d for d in dests if d.rule_id == r.id]) for r in rows], total


def get_rule(db: Executor, org_id: int, rule_id: int) -> RuleOut:
    rule = repository.get_rule(db, org_id, rule_id)
    if rule is None:
        raise NotFound("No such alert rule")
    return _rule_out(rule, repository.rule_destinations(db, org_id, [rule_id]))


def _check_body(
    db: Executor, org_id: int, body: RuleIn, rule_id: int | None, settings: Settings
) -> None:
    for i, webhook in enumerate(body.webhooks):
        reason = refused_literal_address(webhook.url, settings)
        if reason:
            raise Unprocessable(reason, loc=("body", "webhooks", str(i), "url"))
    if repository.rule_name_taken(db, org_id, body.name, other_than=rule_id):
        raise Conflict(f"An alert rule named {body.name!r} already exists")


def _rule_values(body: RuleIn) -> dict[str, Any]:
    return {
        "name": body.name,
        "kind": body.kind.value,
        "params": body.params,
        "severity": body.severity.value,
        "enabled": body.enabled,
        "cooldown_minutes": body.cooldown_minutes,
        "escalation_minutes": body.escalation_minutes,
        "escalation_emails": list(body.escalation_emails),
    }


def _save_destinations(db: Executor, org_id: int, rule_id: int, body: RuleIn) -> dict[int, str]:
    """Make the rule's destinations those of `body`: a webhook whose URL is already there keeps
    its id (and its secret unless one is given); returns the secrets generated, by id."""
    existing = {
        (d.channel, d.target): d for d in repository.rule_destinations(db, org_id, [rule_id])
    }
    wanted: set[tuple[str, str]] = set()
    shown: dict[int, str] = {}
    for webhook in body.webhooks:
        key = ("webhook", webhook.url)
        wanted.add(key)
        found = existing.get(key)
        if found is not None:
            if webhook.secret is not None:
                repository.set_destination_secret(db, org_id, found.id, webhook.secret)
            continue
        secret = webhook.secret or generate_secret()
        destination_id = repository.insert_destination(
            db, org_id, rule_id, "webhook", webhook.url, secret
        )
        if webhook.secret is None:
            shown[destination_id] = secret
    for email in body.emails:
        key = ("email", email)
        wanted.add(key)
        if key not in existing:
            repository.insert_destination(db, org_id, rule_id, "email", email, None)
    repository.delete_destinations(
        db, org_id, (d.id for k, d in existing.items() if k not in wanted)
    )
    return shown


def create_rule(
    session: Session, org_id: int, user: User, body: RuleIn, settings: Settings | None = None
) -> RuleOut:
    _check_body(session, org_id, body, None, settings or get_settings())
    rule_id = repository.insert_rule(session, org_id, {**_rule_values(body), "created_by": user.id})
    shown = _save_destinations(session, org_id, rule_id, body)
    rule = repository.get_rule(session, org_id, rule_id)
    return _rule_out(rule, repository.rule_destinations(session, org_id, [rule_id]), shown)


def replace_rule(
    session: Session, org_id: int, rule_id: int, body: RuleIn, settings: Settings | None = None
) -> RuleOut:
    if repository.get_rule(session, org_id, rule_id, lock=True) is None:
        raise NotFound("No such alert rule")
    _check_body(session, org_id, body, rule_id, settings or get_settings())
    repository.update_rule(session, org_id, rule_id, _rule_values(body))
    shown = _save_destinations(session, org_id, rule_id, body)
    rule = repository.get_rule(session, org_id, rule_id)
    return _rule_out(rule, repository.rule_destinations(session, org_id, [rule_id]), shown)


def delete_rule(session: Session, org_id: int, rule_id: int) -> None:
    if not repository.delete_rule(session, org_id, rule_id):
        raise NotFound("No such alert rule")


# --- alerts -----------------------------------------------------------------------------------


def list_alerts(
    db: Executor,
    org_id: int,
    *,
    states: list[AlertState],
    severities: list[str],
    customer_id: int | None,
    skip: int,
    limit: int,
) -> tuple[list[AlertOut], int]:
    rows, total = repository.list_alerts(
        db,
        org_id,
        states_in=[s.value for s in states],
        severities=severities,
        customer_id=customer_id,
        skip=skip,
        limit=limit,
    )
    return [AlertOut.model_validate(r) for r in rows], total


def feed(db: Executor, org_id: int, *, after: int | None, limit: int) -> AlertFeed:
    rows = repository.feed(db, org_id, after=after, limit=limit)
    items = [AlertOut.model_validate(r) for r in rows]
    return AlertFeed(items=items, last_id=items[-1].id if items else after)


def get_alert(db: Executor, org_id: int, alert_id: int) -> AlertOut:
    row = repository.get_alert(db, org_id, alert_id)
    if row is None:
        raise NotFound("No such alert")
    return AlertOut.model_validate(row)


def list_deliveries(db: Executor, org_id: int, alert_id: int) -> list[DeliveryOut]:
    if repository.get_alert(db, org_id, alert_id) is None:
        raise NotFound("No such alert")
    return [
        DeliveryOut.model_validate(r) for r in repository.alert_deliveries(db, org_id, alert_id)
    ]


def acknowledge(
    session: Session, org_id: int, alert_id: int, user: User, now: datetime
) -> AlertOut:
    """Open → acknowledged (stops escalation); acknowledging again changes nothing. A resolved
    alert cannot be acknowledged (409)."""
    alert = repository.lock_alert(session, org_id, alert_id)
    if alert is None:
        raise NotFound("No such alert")
    if alert.state == "resolved":
        raise Conflict("The alert is resolved")
    if alert.state == "open":
        repository.update_alert(
            session,
            org_id,
            alert_id,
            {"state": "acknowledged", "acknowledged_at": now, "acknowledged_by": user.id},
        )
    return get_alert(session, org_id, alert_id)


def resolve(session: Session, org_id: int, alert_id: int, user: User, now: datetime) -> AlertOut:
    """Open or acknowledged → resolved; resolving again changes nothing."""
    alert = repository.lock_alert(session, org_id, alert_id)
    if alert is None:
        raise NotFound("No such alert")
    if alert.state != "resolved":
        repository.update_alert(
            session,
            org_id,
            alert_id,
            {"state": "resolved", "resolved_at": now, "resolved_by": user.id},
        )
    return get_alert(session, org_id, alert_id)


# --- evaluation -------------------------------------------------------------------------------


def _number(value: float) -> str:
    return f"{value:g}"


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def _holding(
    db: Executor, org_id: int, rule: Row, signals: list[CustomerSignals], now: datetime
) -> dict[int, tuple[str, dict[str, Any]]]:
    """Customers meeting the rule's condition now: message and details by customer id."""
    params = rule.params
    kind = RuleKind(rule.kind)
    found: dict[int, tuple[str, dict[str, Any]]] = {}
    if kind == RuleKind.spend_drop:
        days, percent = int(params["days"]), float(params["percent"])
        for row in repository.spend_drops(db, org_id, days=days, percent=percent, now=now):
            message = (
                f"Spend in the last {days} days down {_number(float(row.drop_percent))}% "
                f"({_money(row.previous)} → {_money(row.recent)})"
            )
            found[row.customer_id] = (
                message,
                {
                    "days": days,
                    "recent_spend": _money(row.recent),
                    "previous_spend": _money(row.previous),
                    "drop_percent": float(row.drop_percent),
                },
            )
        return found
    for s in signals:
        if kind == RuleKind.health_drop:
            if s.health_score is None or s.previous_health_score is None:
                continue
            fall = s.previous_health_score - s.health_score
            if fall >= float(params["points"]):
                found[s.customer_id] = (
                    f"Health fell {_number(fall)} points "
                    f"({_number(s.previous_health_score)} → {_number(s.health_score)})",
                    {
                        "health_score": s.health_score,
                        "previous_health_score": s.previous_health_score,
                        "drop": fall,
                    },
                )
        elif kind == RuleKind.entered_critical:
            if s.health_band == "critical":
                score = "" if s.health_score is None else f" (score {_number(s.health_score)})"
                found[s.customer_id] = (
                    f"Entered the critical health band{score}",
                    {"health_band": s.health_band, "health_score": s.health_score},
                )
        elif kind == RuleKind.churn_probability:
            p = s.churn_probability
            if p is not None and p >= float(params["probability"]):
                found[s.customer_id] = (
                    f"Churn probability {p:.2f} ≥ {float(params['probability']):.2f}",
                    {"churn_probability": p},
                )
    return found


def _evaluate_rule(
    db: Executor,
    org_id: int,
    rule: Row,
    holding: dict[int, tuple[str, dict[str, Any]]],
    destinations: list[Row],
    now: datetime,
) -> tuple[int, int]:
    """Apply one rule's findings: record the conditions, raise the alerts due, and queue their
    deliveries. Returns (alerts raised, deliveries queued)."""
    ids = sorted(repository.existing_customers(db, org_id, list(holding)))
    repository.clear_conditions(db, org_id, rule.id, ids, now)
    known = repository.rule_states(db, org_id, rule.id, ids)
    unresolved = repository.unresolved_customers(db, org_id, rule.id)
    cooldown = timedelta(minutes=rule.cooldown_minutes)
    to_raise = []
    for customer_id in ids:
        if customer_id in unresolved:
            continue  # the same problem: its alert is still open or acknowledged
        state = known.get(customer_id)
        if state is not None and state.last_alert_at is not None:
            if not state.cleared_since_alert or state.last_alert_at + cooldown > now:
                continue
        to_raise.append(customer_id)
    raised = repository.insert_alerts(
        db,
        [
            {
                "org_id": org_id,
                "rule_id": rule.id,
                "customer_id": customer_id,
                "kind": rule.kind,
                "severity": rule.severity,
                "state": "open",
                "message": holding[customer_id][0],
                "details": holding[customer_id][1],
                "raised_at": now,
            }
            for customer_id in to_raise
        ],
    )
    raised_customers = {r.customer_id for r in raised}
    repository.save_states(
        db,
        [
            {
                "org_id": org_id,
                "rule_id": rule.id,
                "customer_id": customer_id,
                "condition_held": True,
                "evaluated_at": now,
                "cleared_since_alert": (
                    False
                    if customer_id in raised_customers
                    else (known[customer_id].cleared_since_alert if customer_id in known else True)
                ),
                "last_alert_at": now if customer_id in raised_customers else None,
            }
            for customer_id in ids
        ],
    )
    queued = repository.insert_deliveries(
        db,
        [
            {
                "org_id": org_id,
                "alert_id": alert.id,
                "destination_id": d.id,
                "purpose": "alert",
                "channel": d.channel,
                "target": d.target,
                "next_attempt_at": now,
            }
            for alert in raised
            for d in destinations
        ],
    )
    return len(raised), queued


def evaluate(
    db: Executor, org_id: int, signals: Iterable[CustomerSignals], now: datetime
) -> dict[str, Any]:
    """Evaluate every enabled rule of the organisation at `now`, in the caller's transaction.

    `signals` are the customers' health and churn signals (every customer the organisation has
    some for); `spend_drop` is computed here from the transactions. Returns counts."""
    signals = list(signals)
    rules = repository.enabled_rules(db, org_id)
    dests = repository.rule_destinations(db, org_id, [r.id for r in rules])
    raised = queued = 0
    per_rule: dict[str, int] = {}
    for rule in rules:
        holding = _holding(db, org_id, rule, signals, now)
        n, q = _evaluate_rule(
            db, org_id, rule, holding, [d for d in dests if d.rule_id == rule.id], now
        )
        raised += n
        queued += q
        per_rule[str(rule.id)] = n
    return {
        "rules": len(rules),
        "customers_with_signals": len(signals),
        "alerts_raised": raised,
        "deliveries_queued": queued,
        "raised_per_rule": per_rule,
    }


def escalate_due(db: Executor, org_id: int, now: datetime) -> int:
    """Queue the escalation emails of critical alerts still open past their rule's escalation
    time, once per alert; returns how many alerts escalated."""
    due = repository.due_escalations(db, org_id, now)
    for alert in due:
        repository.insert_deliveries(
            db,
            [
                {
                    "org_id": org_id,
                    "alert_id": alert.id,
                    "destination_id": None,
                    "purpose": "escalation",
                    "channel": "email",
                    "target": email,
                    "next_attempt_at": now,
                }
                for email in alert.escalation_emails
            ],
        )
        repository.update_alert(db, org_id, alert.id, {"escalated_at": now})
    return len(due)


def queue_evaluation(
    conn: Connection, org_id: int, *, trigger: Trigger, created_by: int | None = None
) -> int:
    """Record an `alerts.evaluate` job and queue it in the caller's transaction (the health
    recompute calls this when it has stored new scores); returns the job's id."""
    return enqueue(conn, org_id, JOB_KIND, {"trigger": trigger}, created_by=created_by)


def queue_daily_evaluations(conn: Connection) -> int:
    """An `alerts.evaluate` job for every organisation with an enabled rule (one organisation at
    a time, under row-level security); returns how many were queued."""
    queued = 0
    for org_id in repository.organization_ids(conn):
        set_org(conn, org_id)
        if repository.enabled_rules(conn, org_id):
            queue_evaluation(conn, org_id, trigger="schedule")
            queued += 1
    return queued
