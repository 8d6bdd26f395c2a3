"""HTTP routes of /api/v1/auth: login, signup and the caller's profile."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from spendlens.auth import service
from spendlens.auth.dependencies import CurrentOrg, CurrentUser, SettingsDep
from spendlens.auth.schemas import Me, OrganizationOut, SignupIn, SignupOut, Token, UserOut
from spendlens.db import SessionDep
from spendlens.errors import error_responses

router = APIRouter(prefix="/auth", tags=["auth"])


@router.post("/login", response_model=Token, responses=error_responses(401, 422, 429))
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
    response_model=SignupOut,
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(403, 409, 422),
)
def signup(body: SignupIn, session: SessionDep, settings: SettingsDep) -> SignupOut:
    """Create a new organisation with its first admin, and log that admin in."""
    user, org = service.signup(
        session,
        email=body.email,
        password=body.password,
        full_name=body.full_name,
        organization_name=body.organization_name,
        base_currency=body.base_currency,
        settings=settings,
    )
    token, expires_in = service.issue_token(user, settings)
    return SignupOut(
        user=UserOut.model_validate(user),
        organization=OrganizationOut.model_validate(org),
        access_token=token,
        expires_in=expires_in,
    )


@router.get("/me", response_model=Me, responses=error_responses(401))
def me(user: CurrentUser, org: CurrentOrg) -> Me:
    """The authenticated user with their organisation and role."""
    return Me(
        **UserOut.model_validate(user).model_dump(),
        organization=OrganizationOut.model_validate(org),
    )
