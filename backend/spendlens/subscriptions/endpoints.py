"""HTTP routes of /api/v1/plans."""

from __future__ import annotations

from fastapi import APIRouter, status

from spendlens.auth.dependencies import AnalystUser, CurrentUser
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.subscriptions import service
from spendlens.subscriptions.schemas import PlanIn, PlanOut

router = APIRouter(prefix="/plans", tags=["plans"])


@router.get("", response_model=Page[PlanOut], responses=error_responses(401, 403, 422))
def list_plans(user: CurrentUser, session: SessionDep, page: PaginationDep) -> Page[PlanOut]:
    """The organisation's plans by name, those only named by events so far included."""
    items, total = service.list_plans(session, user.org_id, skip=page.skip, limit=page.limit)
    return Page(items=items, total=total, skip=page.skip, limit=page.limit)


@router.post(
    "",
    response_model=PlanOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_plan(body: PlanIn, user: AnalystUser, session: SessionDep) -> PlanOut:
    """Add a plan, or complete one that events named first (analysts and admins)."""
    return service.create_plan(session, user.org_id, body)
