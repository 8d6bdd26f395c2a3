"""HTTP routes of /api/v1/users (admins only): the organisation's users and invitations."""

from __future__ import annotations

from fastapi import APIRouter, status

from spendlens.auth.dependencies import AdminUser, SettingsDep
from spendlens.auth.schemas import UserOut
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.kit.pagination import Page, PaginationDep
from spendlens.users import invitations, service
from spendlens.users.schemas import (
    InvitationCreated,
    InvitationIn,
    InvitationOut,
    UserCreate,
    UserUpdate,
)

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
def create_user(
    body: UserCreate, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> UserOut:
    """Create a user in the caller's organisation (with a password that passes the policy)."""
    return UserOut.model_validate(service.create_user(session, admin.org_id, body, settings))


# Declared before /users/{user_id}, which would otherwise take "invitations" for an id.
@router.get(
    "/invitations",
    response_model=Page[InvitationOut],
    responses=error_responses(401, 403, 422),
)
def list_invitations(
    admin: AdminUser, session: SessionDep, page: PaginationDep
) -> Page[InvitationOut]:
    """The organisation's invitations not accepted yet, newest first (expired ones included)."""
    rows, total = invitations.list_pending(session, admin.org_id, skip=page.skip, limit=page.limit)
    return Page(
        items=[InvitationOut.model_validate(r) for r in rows],
        total=total,
        skip=page.skip,
        limit=page.limit,
    )


@router.post(
    "/invitations",
    response_model=InvitationCreated,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 403, 409, 422),
)
def create_invitation(
    body: InvitationIn, admin: AdminUser, session: SessionDep, settings: SettingsDep
) -> InvitationCreated:
    """Invite an email into the caller's organisation with a role; the token is shown once."""
    invitation, token = invitations.create(session, admin, body, settings)
    return InvitationCreated(**InvitationOut.model_validate(invitation).model_dump(), token=token)


@router.delete(
    "/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(401, 403, 404, 422),
)
def revoke_invitation(invitation_id: int, admin: AdminUser, session: SessionDep) -> None:
    """Withdraw an invitation not accepted yet."""
    invitations.revoke(session, admin.org_id, invitation_id)


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
