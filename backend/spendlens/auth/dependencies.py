"""The current user from the bearer token, and role checks as named dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from spendlens.auth.security import decode_access_token
from spendlens.config import Settings, get_settings
from spendlens.db import SessionDep
from spendlens.errors import Forbidden, Unauthorized
from spendlens.events import keys as ingest_keys
from spendlens.models import Organization, Role, User
from spendlens.tenancy import bind_org

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/login", auto_error=False)

SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_current_user(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> User:
    if not token:
        raise Unauthorized("Not authenticated")
    if ingest_keys.is_ingest_key(token):
        # A live ingest key may post events (EventWriter) and nothing else.
        if ingest_keys.authenticate(session, token) is None:
            raise Unauthorized("Unknown or revoked ingest key")
        raise Forbidden("An ingest key may only post events (POST /api/v1/events)")
    claims = decode_access_token(token, settings)
    try:
        user_id = int(claims["sub"])
        org_id = int(claims["org"])
    except (KeyError, TypeError, ValueError):
        raise Unauthorized("Invalid token")
    # The request's organisation from here on (row-level security): the user is read through
    # its policy, so a token naming another organisation than the user's finds no one.
    bind_org(session, org_id)
    user = session.get(User, user_id)
    # A deactivated user, a role change or a moved user bumps or breaks these: the token is dead.
    if (
        user is None
        or not user.is_active
        or user.token_version != claims["ver"]
        or user.org_id != claims["org"]
    ):
        raise Unauthorized("Token is no longer valid")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def _require(*roles: Role):
    allowed = {r.value for r in roles}

    def check(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise Forbidden(f"Requires role: {' or '.join(sorted(allowed))}")
        return user

    return check


AnalystUser = Annotated[User, Depends(_require(Role.analyst, Role.admin))]
AdminUser = Annotated[User, Depends(_require(Role.admin))]


def get_org_scope(user: CurrentUser) -> int:
    """The caller's organisation id: the only org any query of this request may touch."""
    return user.org_id


OrgScope = Annotated[int, Depends(get_org_scope)]


def get_current_org(session: SessionDep, org_id: OrgScope) -> Organization:
    org = session.get(Organization, org_id)
    if org is None:  # the org was deleted under a live token
        raise Unauthorized("Token is no longer valid")
    return org


CurrentOrg = Annotated[Organization, Depends(get_current_org)]


@dataclass(frozen=True)
class EventWriterIdentity:
    """Who posts events: an analyst or admin (`user`), or an organisation's ingest key."""

    org_id: int
    user: User | None = None
    ingest_key_id: int | None = None


def get_event_writer(
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str | None, Depends(oauth2_scheme)],
) -> EventWriterIdentity:
    if token and ingest_keys.is_ingest_key(token):
        key = ingest_keys.authenticate(session, token)
        if key is None:
            raise Unauthorized("Unknown or revoked ingest key")
        return EventWriterIdentity(org_id=key.org_id, ingest_key_id=key.id)
    user = get_current_user(session, settings, token)
    if user.role not in (Role.analyst.value, Role.admin.value):
        raise Forbidden("Requires role: admin or analyst, or an ingest key")
    return EventWriterIdentity(org_id=user.org_id, user=user)


# POST /events: analysts, admins and ingest keys.
EventWriter = Annotated[EventWriterIdentity, Depends(get_event_writer)]
