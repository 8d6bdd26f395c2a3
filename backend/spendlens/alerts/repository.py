"""Queries of the alerts domain; every one is scoped to an organisation."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    and_,
    bindparam,
    cast,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, insert
from sqlalchemy.orm import Session
from sqlalchemy.types import BigInteger

from spendlens.models import (
    Alert,
    AlertDelivery,
    AlertDestination,
    AlertRule,
    AlertRuleState,
    Customer,
    Organization,
)

Executor = Session | Connection

rules = AlertRule.__table__
destinations = AlertDestination.__table__
alerts = Alert.__table__
states = AlertRuleState.__table__
deliveries = AlertDelivery.__table__
customers = Customer.__table__

# --- rules ----------------------------------------------------------------------------------


def list_rules(db: Executor, org_id: int, *, skip: int, limit: int) -> tuple[list[Row], int]:
    total = db.execute(
        select(func.count()).select_from(rules).where(rules.c.org_id == org_id)
    ).scalar_one()
    rows = db.execute(
        select(rules).where(rules.c.org_id == org_id).order_by(rules.c.id).offset(skip).limit(limit)
    ).all()
    return list(rows), total


def get_rule(db: Executor, org_id: int, rule_id: int, *, lock: bool = False) -> Row | None:
    query = select(rules).where(rules.c.org_id == org_id, rules.c.id == rule_id)
    if lock:
        query = query.with_for_update()
    return db.execute(query).first()


def rule_name_taken(db: Executor, org_id: int, name: str, *, other_than: int | None) -> bool:
    query = select(rules.c.id).where(rules.c.org_id == org_id, rules.c.name == name)
    if other_than is not None:
        query = query.where(rules.c.id != other_than)
    return db.execute(query).first() is not None


def insert_rule(db: Executor, org_id: int, values: dict[str, Any]) -> int:
    return db.execute(
        insert(rules).values(org_id=org_id, **values).returning(rules.c.id)
    ).scalar_one()


def update_rule(db: Executor, org_id: int, rule_id: int, values: dict[str, Any]) -> None:
    db.execute(
        update(rules)
        .where(rules.c.org_id == org_id, rules.c.id == rule_id)
        .values(updated_at=func.now(), **values)
    )


def delete_rule(db: Executor, org_id: int, rule_id: int) -> bool:
    result = db.execute(delete(rules).where(rules.c.org_id == org_id, rules.c.id == rule_id))
    return result.rowcount > 0


def rule_destinations(db: Executor, org_id: int, rule_ids: Sequence[int]) -> list[Row]:
    if not rule_ids:
        return []
    return list(
        db.execute(
            select(destinations)
            .where(destinations.c.org_id == org_id, destinations.c.rule_id.in_(rule_ids))
            .order_by(destinations.c.id)
        ).all()
    )


def insert_destination(
    db: Executor, org_id: int, rule_id: int, channel: str, target: str, secret: str | None
) -> int:
    return db.execute(
        insert(destinations)
        .values(org_id=org_id, rule_id=rule_id, channel=channel, target=target, secret=secret)
        .returning(destinations.c.id)
    ).scalar_one()


def set_destination_secret(db: Executor, org_id: int, destination_id: int, secret: str) -> None:
    db.execute(
        update(destinations)
        .where(destinations.c.org_id == org_id, destinations.c.id == destination_id)
        .values(secret=secret)
    )


def delete_destinations(db: Executor, org_id: int, ids: Iterable[int]) -> None:
    ids = list(ids)
    if ids:
        db.execute(
            delete(destinations).where(destinations.c.org_id == org_id, destinations.c.id.in_(ids))
        )


def enabled_rules(db: Executor, org_id: int) -> list[Row]:
    return list(
        db.execute(
            select(rules)
            .where(rules.c.org_id == org_id, rules.c.enabled.is_(True))
            .order_by(rules.c.id)
        ).all()
    )


# --- evaluation -------------------------------------------------------------------------------


def existing_customers(db: Executor, org_id: int, ids: Sequence[int]) -> set[int]:
    if not ids:
        return set()
    found = db.execute(
        select(customers.c.id).where(
            customers.c.org_id == org_id,
            customers.c.id == func.any(cast(bindparam("ids", list(ids)), ARRAY(BigInteger))),
        )
    ).scalars()
    return set(found)


_SPEND_DROP_SQL = text("""
    SELECT customer_id, recent, previous,
           round((previous - recent) / previous * 100, 2) AS drop_percent
    FROM (
        SELECT t.customer_id,
               COALESCE(sum(t.amount) FILTER (WHERE t.occurred_at > :recent_start), 0) AS recent,
               COALESCE(sum(t.amount) FILTER (WHERE t.occurred_at <= :recent_start), 0)
                   AS previous
        FROM transactions t
        WHERE t.org_id = :org_id AND t.currency = :currency
          AND t.occurred_at > :previous_start AND t.occurred_at <= :now
        GROUP BY t.customer_id
    ) spend
    WHERE previous > 0 AND (previous - recent) * 100 >= :percent * previous
    ORDER BY customer_id
    """)


def spend_drops(
    db: Executor, org_id: int, *, days: int, percent: float, now: datetime
) -> list[Row]:
    """Customers whose net spend in base currency in (now − days, now] is down by at least
    `percent` % against (now − 2·days, now − days], with both sums and the drop in percent."""
    currency = db.execute(
        select(Organization.base_currency).where(Organization.id == org_id)
    ).scalar_one()
    return list(
        db.execute(
            _SPEND_DROP_SQL,
            {
                "org_id": org_id,
                "currency": currency,
                "now": now,
                "recent_start": now - timedelta(days=days),
                "previous_start": now - timedelta(days=2 * days),
                "percent": percent,
            },
        ).all()
    )


def clear_conditions(
    db: Executor, org_id: int, rule_id: int, holding: Sequence[int], now: datetime
) -> None:
    """Customers whose condition held at the last evaluation but no longer does: cleared."""
    db.execute(
        update(states)
        .where(
            states.c.org_id == org_id,
            states.c.rule_id == rule_id,
            states.c.condition_held.is_(True),
            ~(
                states.c.customer_id
                == func.any(cast(bindparam("holding", list(holding)), ARRAY(BigInteger)))
            ),
        )
        .values(condition_held=False, cleared_since_alert=True, evaluated_at=now)
    )


def rule_states(db: Executor, org_id: int, rule_id: int, ids: Sequence[int]) -> dict[int, Row]:
    if not ids:
        return {}
    rows = db.execute(
        select(states).where(
            states.c.org_id == org_id,
            states.c.rule_id == rule_id,
            states.c.customer_id == func.any(cast(bindparam("ids", list(ids)), ARRAY(BigInteger))),
        )
    ).all()
    return {row.customer_id: row for row in rows}


def unresolved_customers(db: Executor, org_id: int, rule_id: int) -> set[int]:
    return set(
        db.execute(
            select(alerts.c.customer_id).where(
                alerts.c.org_id == org_id,
                alerts.c.rule_id == rule_id,
                alerts.c.state != "resolved",
            )
        ).scalars()
    )


# Rows per multi-row INSERT (an evaluation may touch every customer of a large organisation).
CHUNK_ROWS = 1000


def _chunks(rows: list[dict[str, Any]]) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK_ROWS):
        yield rows[start : start + CHUNK_ROWS]


def insert_alerts(db: Executor, rows: list[dict[str, Any]]) -> list[Row]:
    """Insert alerts; one that would be a second unresolved alert of its rule and customer (an
    evaluation running at the same time raised it) is skipped. Returns (id, customer_id)."""
    inserted: list[Row] = []
    for chunk in _chunks(rows):
        statement = (
            insert(alerts)
            .values(chunk)
            .on_conflict_do_nothing(
                index_elements=["org_id", "rule_id", "customer_id"],
                index_where=text("state <> 'resolved'"),
            )
            .returning(alerts.c.id, alerts.c.customer_id)
        )
        inserted.extend(db.execute(statement).all())
    return inserted


def save_states(db: Executor, rows: list[dict[str, Any]]) -> None:
    """Upsert per customer × rule: the condition held at `evaluated_at`; rows with
    `last_alert_at` also record that an alert was raised then."""
    for chunk in _chunks(rows):
        statement = insert(states).values(chunk)
        excluded = statement.excluded
        statement = statement.on_conflict_do_update(
            index_elements=["org_id", "rule_id", "customer_id"],
            set_={
                "condition_held": excluded.condition_held,
                "evaluated_at": excluded.evaluated_at,
                "cleared_since_alert": excluded.cleared_since_alert,
                "last_alert_at": func.coalesce(excluded.last_alert_at, states.c.last_alert_at),
            },
        )
        db.execute(statement)


def insert_deliveries(db: Executor, rows: list[dict[str, Any]]) -> int:
    queued = 0
    for chunk in _chunks(rows):
        statement = insert(deliveries).values(chunk).on_conflict_do_nothing()
        queued += db.execute(statement).rowcount
    return queued


# --- alerts ---------------------------------------------------------------------------------


def _alert_columns() -> list[Any]:
    return [
        *alerts.c,
        rules.c.name.label("rule_name"),
        customers.c.name.label("customer_name"),
    ]


def _alerts_from() -> Any:
    return alerts.join(
        rules, and_(rules.c.org_id == alerts.c.org_id, rules.c.id == alerts.c.rule_id)
    ).join(
        customers,
        and_(customers.c.org_id == alerts.c.org_id, customers.c.id == alerts.c.customer_id),
    )


def list_alerts(
    db: Executor,
    org_id: int,
    *,
    states_in: Sequence[str],
    severities: Sequence[str],
    customer_id: int | None,
    skip: int,
    limit: int,
) -> tuple[list[Row], int]:
    conditions = [alerts.c.org_id == org_id]
    if states_in:
        conditions.append(alerts.c.state.in_(states_in))
    if severities:
        conditions.append(alerts.c.severity.in_(severities))
    if customer_id is not None:
        conditions.append(alerts.c.customer_id == customer_id)
    total = db.execute(select(func.count()).select_from(alerts).where(*conditions)).scalar_one()
    rows = db.execute(
        select(*_alert_columns())
        .select_from(_alerts_from())
        .where(*conditions)
        .order_by(alerts.c.id.desc())
        .offset(skip)
        .limit(limit)
    ).all()
    return list(rows), total


def feed(db: Executor, org_id: int, *, after: int | None, limit: int) -> list[Row]:
    query = select(*_alert_columns()).select_from(_alerts_from()).where(alerts.c.org_id == org_id)
    if after is None:
        # The latest `limit`, returned oldest first like every later poll.
        latest = query.order_by(alerts.c.id.desc()).limit(limit).subquery()
        return list(db.execute(select(latest).order_by(latest.c.id)).all())
    query = query.where(alerts.c.id > after).order_by(alerts.c.id).limit(limit)
    return list(db.execute(query).all())


def get_alert(db: Executor, org_id: int, alert_id: int) -> Row | None:
    return db.execute(
        select(*_alert_columns())
        .select_from(_alerts_from())
        .where(alerts.c.org_id == org_id, alerts.c.id == alert_id)
    ).first()


def lock_alert(db: Executor, org_id: int, alert_id: int) -> Row | None:
    return db.execute(
        select(alerts).where(alerts.c.org_id == org_id, alerts.c.id == alert_id).with_for_update()
    ).first()


def update_alert(db: Executor, org_id: int, alert_id: int, values: dict[str, Any]) -> None:
    db.execute(
        update(alerts).where(alerts.c.org_id == org_id, alerts.c.id == alert_id).values(**values)
    )


def alert_deliveries(db: Executor, org_id: int, alert_id: int) -> list[Row]:
    return list(
        db.execute(
            select(deliveries)
            .where(deliveries.c.org_id == org_id, deliveries.c.alert_id == alert_id)
            .order_by(deliveries.c.id)
        ).all()
    )


# --- escalation and delivery --------------------------------------------------------------------


def due_escalations(db: Executor, org_id: int, now: datetime) -> list[Row]:
    """Critical alerts still open past their rule's escalation time, not escalated yet
    (locked, so two sweeps never escalate one alert twice)."""
    return list(
        db.execute(
            select(alerts.c.id, rules.c.escalation_emails)
            .select_from(
                alerts.join(
                    rules,
                    and_(rules.c.org_id == alerts.c.org_id, rules.c.id == alerts.c.rule_id),
                )
            )
            .where(
                alerts.c.org_id == org_id,
                alerts.c.state == "open",
                alerts.c.severity == "critical",
                alerts.c.escalated_at.is_(None),
                rules.c.escalation_minutes.is_not(None),
                alerts.c.raised_at + rules.c.escalation_minutes * text("interval '1 minute'")
                <= now,
            )
            .order_by(alerts.c.id)
            .with_for_update(of=alerts, skip_locked=True)
        ).all()
    )


def claim_due_deliveries(db: Executor, org_id: int, now: datetime, limit: int) -> list[Row]:
    """Pending deliveries due by `now`, locked for this transaction (another sweep skips them),
    with their destination's secret (null when the destination was removed)."""
    query = (
        select(
            *deliveries.c,
            destinations.c.secret,
            destinations.c.id.label("destination_found"),
        )
        .select_from(
            deliveries.outerjoin(
                destinations,
                and_(
                    destinations.c.org_id == deliveries.c.org_id,
                    destinations.c.id == deliveries.c.destination_id,
                ),
            )
        )
        .where(
            deliveries.c.org_id == org_id,
            deliveries.c.state == "pending",
            deliveries.c.next_attempt_at <= now,
        )
        .order_by(deliveries.c.next_attempt_at, deliveries.c.id)
        .limit(limit)
        .with_for_update(of=deliveries, skip_locked=True)
    )
    return list(db.execute(query).all())


def record_attempt(
    db: Executor,
    org_id: int,
    delivery_id: int,
    *,
    state: str,
    status: int | None,
    error: str | None,
    at: datetime,
    next_attempt_at: datetime | None,
) -> None:
    entry = {"at": at.isoformat(), "status": status, "error": error}
    db.execute(
        update(deliveries)
        .where(deliveries.c.org_id == org_id, deliveries.c.id == delivery_id)
        .values(
            state=state,
            attempts=deliveries.c.attempts + 1,
            last_status=status,
            last_error=error,
            next_attempt_at=next_attempt_at,
            delivered_at=at if state == "delivered" else None,
            attempt_log=deliveries.c.attempt_log.op("||")(cast([entry], JSONB)),
        )
    )


def alert_payload_row(db: Executor, org_id: int, alert_id: int) -> Row:
    return db.execute(
        select(*_alert_columns(), customers.c.external_id.label("customer_external_id"))
        .select_from(_alerts_from())
        .where(alerts.c.org_id == org_id, alerts.c.id == alert_id)
    ).one()


def organization_ids(db: Executor) -> list[int]:
    """Every organisation (organizations is not a tenant table)."""
    return list(db.execute(select(Organization.id).order_by(Organization.id)).scalars())
