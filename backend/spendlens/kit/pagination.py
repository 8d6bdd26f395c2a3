"""`skip`/`limit` pagination shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# Far past any organisation's rows, and far below what PostgreSQL's OFFSET (a bigint) overflows on.
MAX_SKIP = 1_000_000_000


class PaginationParams(BaseModel):
    skip: int
    limit: int


def pagination_params(
    skip: Annotated[
        int, Query(ge=0, le=MAX_SKIP, description=f"Rows to skip (at most {MAX_SKIP:,})")
    ] = 0,
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Rows to return (at most {MAX_LIMIT})")
    ] = DEFAULT_LIMIT,
) -> PaginationParams:
    return PaginationParams(skip=skip, limit=limit)


PaginationDep = Annotated[PaginationParams, Depends(pagination_params)]


class Page(BaseModel, Generic[T]):
    items: list[T]
    total: int
    skip: int
    limit: int
