"""SQL that keeps plans, shops, invoices and payments in step with stored events, and the plan
queries of /plans. Every statement is scoped to one organisation and takes a whole batch.

Only events stored for the first time reach these statements (a re-sent event id never does),
and each statement is written to give the same rows whatever order the events arrive in: a shop's
creation is its earliest `shop_created`, its plan the latest chosen, its deletion the latest
`shop_deleted`; an invoice is paid once any payment for it succeeded.
"""

from __future__ import annotations

from sqlalchemy import Connection, func, select, text
from sqlalchemy.orm import Session

from spendlens.models import Plan

SUBSCRIPTION_CATEGORY = "Subscription"

# Plans named by events but never posted get a row of their own (name = their id, no price),
# completed when an analyst posts the plan.
_ENSURE_PLANS = text("""
    INSERT INTO plans (org_id, plan_id, name)
    SELECT :org_id, plan_id, plan_id FROM unnest(CAST(:plan_ids AS text[])) AS plan_id
    ORDER BY plan_id
    ON CONFLICT DO NOTHING
    """)

_UPSERT_SHOPS = text("""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:events AS jsonb))
            AS e(shop_id text, customer_id bigint, type text, occurred_at timestamptz,
                 plan_id text)
    ),
    per_shop AS (
        SELECT shop_id,
               (array_agg(customer_id ORDER BY occurred_at))[1] AS customer_id,
               min(occurred_at) FILTER (WHERE type = 'shop_created') AS created_at,
               max(occurred_at) FILTER (WHERE type = 'shop_deleted') AS deleted_at,
               (array_agg(plan_id ORDER BY occurred_at DESC, plan_id DESC)
                    FILTER (WHERE plan_id IS NOT NULL))[1] AS plan_ref,
               max(occurred_at) FILTER (WHERE plan_id IS NOT NULL) AS plan_selected_at
        FROM input GROUP BY shop_id
    )
    INSERT INTO shops AS s (org_id, shop_id, customer_id, plan_id, plan_selected_at,
                            created_at, deleted_at)
    SELECT :org_id, ps.shop_id, ps.customer_id, p.id, ps.plan_selected_at, ps.created_at,
           ps.deleted_at
    FROM per_shop ps
    LEFT JOIN plans p ON p.org_id = :org_id AND p.plan_id = ps.plan_ref
    ORDER BY ps.shop_id
    ON CONFLICT (org_id, shop_id) DO UPDATE SET
        created_at = LEAST(s.created_at, EXCLUDED.created_at),
        deleted_at = GREATEST(s.deleted_at, EXCLUDED.deleted_at),
        plan_id = CASE
            WHEN EXCLUDED.plan_selected_at IS NOT NULL
                 AND (s.plan_selected_at IS NULL
                      OR EXCLUDED.plan_selected_at >= s.plan_selected_at)
            THEN EXCLUDED.plan_id ELSE s.plan_id END,
        plan_selected_at = GREATEST(s.plan_selected_at, EXCLUDED.plan_selected_at)
    """)

# A succeeded payment is also a transaction (kind purchase, category "Subscription", the plan's
# name as description, the event id as external id), written once: only for a payment row that
# this statement inserted, and never over an existing transaction with that external id. The
# plan is the one the event names (`properties.plan_id`), else the plan of the customer's shop
# open at the payment (the newest such), else none ("Subscription").
_RECORD_PAYMENTS = text("""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:events AS jsonb))
            AS e(event_id uuid, customer_id bigint, type text, occurred_at timestamptz,
                 payment_id text, invoice_id text, amount numeric, currency text, reason text,
                 plan_id text)
    ),
    paid AS (
        INSERT INTO payments (org_id, payment_id, event_id, customer_id, invoice_id, status,
                              amount, currency, reason, occurred_at)
        SELECT :org_id, payment_id, event_id, customer_id, invoice_id,
               CASE type WHEN 'payment_succeeded' THEN 'succeeded' ELSE 'failed' END,
               amount, currency, reason, occurred_at
        FROM input ORDER BY event_id
        ON CONFLICT DO NOTHING
        RETURNING event_id, status
    ),
    recorded AS (
        INSERT INTO transactions (org_id, customer_id, occurred_at, amount, currency, category,
                                  description, quantity, kind, external_id)
        SELECT :org_id, i.customer_id, i.occurred_at, i.amount, i.currency, :category,
               COALESCE(
                   (SELECT p.name FROM plans p
                    WHERE p.org_id = :org_id AND p.plan_id = i.plan_id),
                   (SELECT p.name FROM shops s
                    JOIN plans p ON p.org_id = s.org_id AND p.id = s.plan_id
                    WHERE s.org_id = :org_id AND s.customer_id = i.customer_id
                      AND (s.created_at IS NULL OR s.created_at <= i.occurred_at)
                      AND (s.deleted_at IS NULL OR s.deleted_at > i.occurred_at)
                    ORDER BY s.created_at DESC NULLS LAST, s.id DESC LIMIT 1),
                   :category),
               1, 'purchase', i.event_id::text
        FROM paid JOIN input i ON i.event_id = paid.event_id
        WHERE paid.status = 'succeeded' AND :record_transactions
        ORDER BY i.event_id
        ON CONFLICT (org_id, external_id) DO NOTHING
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM paid) AS payments, (SELECT count(*) FROM recorded) AS transactions
    """)

_UPSERT_INVOICES = text("""
    WITH input AS (
        SELECT * FROM jsonb_to_recordset(CAST(:events AS jsonb))
            AS e(invoice_id text, customer_id bigint, type text, occurred_at timestamptz,
                 amount numeric, currency text)
    ),
    per_invoice AS (
        SELECT invoice_id,
               (array_agg(customer_id ORDER BY occurred_at))[1] AS customer_id,
               (array_agg(amount ORDER BY occurred_at DESC))[1] AS amount,
               (array_agg(currency ORDER BY occurred_at DESC))[1] AS currency,
               min(occurred_at) AS issued_at,
               min(occurred_at) FILTER (WHERE type = 'payment_succeeded') AS paid_at
        FROM input GROUP BY invoice_id
    )
    INSERT INTO invoices AS v (org_id, invoice_id, customer_id, amount, currency, status,
                               issued_at, paid_at)
    SELECT :org_id, invoice_id, customer_id, amount, currency,
           CASE WHEN paid_at IS NULL THEN 'failed' ELSE 'paid' END, issued_at, paid_at
    FROM per_invoice ORDER BY invoice_id
    ON CONFLICT (org_id, invoice_id) DO UPDATE SET
        issued_at = LEAST(v.issued_at, EXCLUDED.issued_at),
        paid_at = LEAST(v.paid_at, EXCLUDED.paid_at),
        status = CASE WHEN LEAST(v.paid_at, EXCLUDED.paid_at) IS NULL THEN 'failed'
                      ELSE 'paid' END
    """)


def ensure_plans(session: Session | Connection, org_id: int, plan_ids: list[str]) -> None:
    session.execute(_ENSURE_PLANS, {"org_id": org_id, "plan_ids": sorted(set(plan_ids))})


def upsert_shops(session: Session | Connection, org_id: int, payload: str) -> None:
    session.execute(_UPSERT_SHOPS, {"org_id": org_id, "events": payload})


def record_payments(
    session: Session | Connection, org_id: int, payload: str, *, record_transactions: bool = True
) -> tuple[int, int]:
    """(payments, transactions) written. The demo seed alone passes `record_transactions=False`:
    its payments stand for purchases it has already written as transactions."""
    row = session.execute(
        _RECORD_PAYMENTS,
        {
            "org_id": org_id,
            "events": payload,
            "category": SUBSCRIPTION_CATEGORY,
            "record_transactions": record_transactions,
        },
    ).one()
    return row.payments, row.transactions


def upsert_invoices(session: Session | Connection, org_id: int, payload: str) -> None:
    session.execute(_UPSERT_INVOICES, {"org_id": org_id, "events": payload})


# --- plans --------------------------------------------------------------------------------------


def list_plans(session: Session, org_id: int, *, skip: int, limit: int) -> tuple[list[Plan], int]:
    where = Plan.org_id == org_id
    total = session.execute(select(func.count()).select_from(Plan).where(where)).scalar_one()
    rows = session.execute(
        select(Plan).where(where).order_by(Plan.name, Plan.id).offset(skip).limit(limit)
    ).scalars()
    return list(rows), total


def plan_by_plan_id(session: Session, org_id: int, plan_id: str) -> Plan | None:
    return session.execute(
        select(Plan).where(Plan.org_id == org_id, Plan.plan_id == plan_id)
    ).scalar_one_or_none()


def plan_by_name(session: Session, org_id: int, name: str) -> Plan | None:
    return session.execute(
        select(Plan).where(Plan.org_id == org_id, Plan.name == name)
    ).scalar_one_or_none()
