"""Plans: posted by analysts, or first named by an event (then completed by a post)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from spendlens.errors import Conflict
from spendlens.models import Plan
from spendlens.subscriptions import repository
from spendlens.subscriptions.schemas import PlanIn, PlanOut


def list_plans(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[PlanOut], int]:
    plans, total = repository.list_plans(session, org_id, skip=skip, limit=limit)
    return [PlanOut.model_validate(p) for p in plans], total


def create_plan(session: Session, org_id: int, body: PlanIn) -> PlanOut:
    """A new plan; or the plan events already named by this `plan_id`, given its name, price,
    currency and interval (once: a posted plan is not posted again)."""
    plan_id = body.plan_id or body.name
    plan = repository.plan_by_plan_id(session, org_id, plan_id)
    if plan is not None and plan.price is not None:
        raise Conflict(f"A plan with plan_id {plan_id!r} already exists")
    named = repository.plan_by_name(session, org_id, body.name)
    if named is not None and named is not plan:
        raise Conflict(f"A plan named {body.name!r} already exists")
    if plan is None:
        plan = Plan(org_id=org_id, plan_id=plan_id)
        session.add(plan)
    plan.name = body.name
    plan.price = body.price
    plan.currency = body.currency
    plan.interval = body.interval.value
    session.flush()
    session.refresh(plan)
    return PlanOut.model_validate(plan)
