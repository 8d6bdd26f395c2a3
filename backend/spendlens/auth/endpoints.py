"""HTTP routes of /api/v1/auth: login, signup, accepting an invitation, the caller's profile and
password."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from spendlens.auth import service
from spendlens.auth.dependencies import CurrentOrg, CurrentUser, SettingsDep
from spendlens.auth.schemas import (
    Me,
    OrganizationOut,
    PasswordChangeIn,
    SignupAccepted,
    SignupIn,
    Token,
    UserOut,
)
from spendlens.db import SessionDep
from spendlens.errors import error_responses
from spendlens.ratelimit import limit_login, limit_signup
from spendlens.users import invitations
from spendlens.users.schemas import InvitationAcceptIn

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post(
    "/login",
    response_model=Token,
    responses=error_responses(401, 422, 429),
    dependencies=[Depends(limit_login)],
)
def login(
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Exchange email (as `username`) and password for a bearer token."""
    user = service.authenticate(session, form.username, form.password, settings)
    token, expires_in = service.issue_token(user, settings)
    return Token(access_token=token, expires_in=expires_in)


@router.post(
    "/signup",
    response_model=SignupAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(403, 422, 429),
    dependencies=[Depends(limit_signup)],
)
def signup(body: SignupIn, session: SessionDep, settings: SettingsDep) -> SignupAccepted:
    """Create a new organisation with its first admin, who then logs in; the answer is the same
    when the email already has an account."""
    service.signup(
        session,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        organization_name=body.organization_name,
        base_currency=body.base_currency,
        settings=settings,
    )
    return SignupAccepted(detail=service.SIGNUP_ACCEPTED)


@router.post(
    "/invitations/accept",
    response_model=Me,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(401, 409, 422, 429),
    dependencies=[Depends(limit_signup)],
)
def accept_invitation(body: InvitationAcceptIn, session: SessionDep, settings: SettingsDep) -> Me:
    """Join the inviting organisation with the role invited for; the user then logs in. 401 for
    a token that is unknown, used or expired."""
    user, org = invitations.accept(session, body, settings)
    return Me(
        **UserOut.model_validate(user).model_dump(),
        organization=OrganizationOut.model_validate(org),
    )


@router.get("/me", response_model=Me, responses=error_responses(401, 429))
def me(user: CurrentUser, org: CurrentOrg) -> Me:
    """The authenticated user with their organisation and role."""
    return Me(
        **UserOut.model_validate(user).model_dump(),
        organization=OrganizationOut.model_validate(org),
    )


@router.put("/me/password", response_model=Token, responses=error_responses(401, 422, 429))
def change_password(
    body: PasswordChangeIn, user: CurrentUser, session: SessionDep, settings: SettingsDep
) -> Token:
    """Change the caller's password; every earlier token is revoked and a new one returned."""
    user = service.change_password(
        session, user, body.current_password, body.new_password, settings
    )
    token, expires_in = service.issue_token(user, settings)
    return Token(access_token=token, expires_in=expires_in)
