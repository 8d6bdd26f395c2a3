"""HTTP routes of /api/v1/users (admins only)."""

from __future__ import annotations

from fastapi import APIRouter, status

from spendlens.auth.dependencies import AdminUser
from spendlens.auth.schemas import UserOut
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.users import service
from spendlens.users.schemas import UserCreate, UserUpdate

router = APIRouter(prefix="/users", tags=["users"])


@router.get("", response_model=Page[UserOut], responses=error_responses(401, 403, 422))
def list_users(admin: AdminUser, session: SessionDep, page: PaginationDep) -> Page[UserOut]:
    """List the users of the caller's organisation."""
    users, total = service.list_users(session, admin.org_id, skip=page.skip, limit=page.limit)
    return Page(
        items=[UserOut.model_validate(u) for u in users],
        total=total,
        skip=page.skip,
        limit=page.limit,
    )


@router.post(
    "",
    response_model=UserOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> UserOut:
    """Create a user in the caller's organisation."""
    return UserOut.model_validate(service.create_user(session, admin.org_id, body))


@router.get("/{user_id}", response_model=UserOut, responses=error_responses(401, 403, 404, 422))
def get_user(user_id: int, admin: AdminUser, session: SessionDep) -> UserOut:
    """One user of the caller's organisation."""
    return UserOut.model_validate(service.get_user(session, admin.org_id, user_id))


@router.patch(
    "/{user_id}", response_model=UserOut, responses=error_responses(401, 403, 404, 409, 422)
)
def update_user(user_id: int, body: UserUpdate, admin: AdminUser, session: SessionDep) -> UserOut:
    """Change a user's name, role or active flag; role change or deactivation revokes tokens."""
    return UserOut.model_validate(service.update_user(session, admin, user_id, body))
