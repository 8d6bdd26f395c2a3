"""HTTP routes /api/v1/categories and /api/v1/merchants, used to fill filter pickers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select

from spendlens.auth.dependencies import CurrentUser, OrgScope
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.kit.sql import contains_pattern
from spendlens.models import Merchant, Transaction

router = APIRouter(tags=["catalog"])


class CategoryOut(BaseModel):
    category: str
    transaction_count: int


class MerchantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    default_category: str | None


@router.get("/categories", response_model=list[CategoryOut], responses=error_responses(401))
def list_categories(user: CurrentUser, org_id: OrgScope, session: SessionDep) -> list[CategoryOut]:
    """Every category used by the organisation's transactions, most used first."""
    rows = session.execute(
        select(Transaction.category, func.count())
        .where(Transaction.org_id == org_id)
        .group_by(Transaction.category)
        .order_by(func.count().desc(), Transaction.category)
    ).all()
    return [CategoryOut(category=c, transaction_count=n) for c, n in rows]


@router.get("/merchants", response_model=Page[MerchantOut], responses=error_responses(401, 422))
def list_merchants(
    user: CurrentUser,
    org_id: OrgScope,
    session: SessionDep,
    page: PaginationDep,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Case-insensitive name search")
    ] = None,
) -> Page[MerchantOut]:
    """The organisation's merchants by name, optionally searched."""
    conditions = [Merchant.org_id == org_id]
    if q:
        conditions.append(Merchant.name.ilike(contains_pattern(q), escape="\\"))
    total = session.execute(
        select(func.count()).select_from(Merchant).where(*conditions)
    ).scalar_one()
    merchants = session.execute(
        select(Merchant)
        .where(*conditions)
        .order_by(Merchant.name)
        .offset(page.skip)
        .limit(page.limit)
    ).scalars()
    return Page(
        items=[MerchantOut.model_validate(m) for m in merchants],
        total=total,
        skip=page.skip,
        limit=page.limit,
    )
