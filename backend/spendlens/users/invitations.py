"""Invitations, the way admins add people to their organisation: an invitation names an email and
a role; its one-time token (only its SHA-256 is stored) creates that user when accepted before it
expires."""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spendlens.auth.passwords import check_new_password
from spendlens.auth.security import hash_password
from spendlens.auth.service import email_taken, normalize_email
from spendlens.config import Settings
from spendlens.errors import Conflict, NotFound, Unauthorized
from spendlens.models import Invitation, Organization, User
from spendlens.tenancy import bind_org, org_of_invitation
from spendlens.users.schemas import InvitationAcceptIn, InvitationIn

INVALID_INVITATION = "This invitation is unknown, already used or expired"


def _token_hash(token: str) -> str:
    # The token has 256 random bits, so a fast hash is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def create(
    session: Session, admin: User, body: InvitationIn, settings: Settings
) -> tuple[Invitation, str]:
    """A new invitation into the admin's organisation, and its token (never stored as such)."""
    email = normalize_email(body.email)
    if email_taken(session, email):
        raise Conflict("An account with this email already exists")
    token = secrets.token_urlsafe(32)
    invitation = Invitation(
        org_id=admin.org_id,
        email=email,
        role=body.role.value,
        token_hash=_token_hash(token),
        invited_by=admin.id,
        expires_at=datetime.now(UTC) + timedelta(days=settings.invitation_days),
    )
    session.add(invitation)
    session.flush()
    return invitation, token


def list_pending(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[Invitation], int]:
    """The organisation's invitations not accepted yet (expired ones included), newest first."""
    where = (Invitation.org_id == org_id, Invitation.accepted_at.is_(None))
    total = session.execute(select(func.count()).select_from(Invitation).where(*where)).scalar_one()
    rows = session.execute(
        select(Invitation).where(*where).order_by(Invitation.id.desc()).offset(skip).limit(limit)
    ).scalars()
    return list(rows), total


def revoke(session: Session, org_id: int, invitation_id: int) -> None:
    """Delete a pending invitation of the organisation (another organisation's answers 404)."""
    invitation = session.execute(
        select(Invitation).where(
            Invitation.org_id == org_id,
            Invitation.id == invitation_id,
            Invitation.accepted_at.is_(None),
        )
    ).scalar_one_or_none()
    if invitation is None:
        raise NotFound("Invitation not found")
    session.delete(invitation)
    session.flush()


def accept(
    session: Session, body: InvitationAcceptIn, settings: Settings
) -> tuple[User, Organization]:
    """Create the invited user; the invitation is used up. Unauthorized for an unknown, used or
    expired token (the token is this call's credential)."""
    token_hash = _token_hash(body.token)
    # The token is the credential: it names the organisation (the one lookup that must see
    # every organisation's invitations), whose policy the rest goes through.
    org_id = org_of_invitation(session, token_hash)
    if org_id is None:
        raise Unauthorized(INVALID_INVITATION)
    bind_org(session, org_id)
    invitation = session.execute(
        select(Invitation)
        .where(Invitation.org_id == org_id, Invitation.token_hash == token_hash)
        .with_for_update()  # two accepts of one token: the second waits, then sees it used
    ).scalar_one_or_none()
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.expires_at <= datetime.now(UTC)
    ):
        raise Unauthorized(INVALID_INVITATION)
    check_new_password(
        body.password,
        min_score=settings.password_min_score,
        user_inputs=(invitation.email, body.full_name),
    )
    if email_taken(session, invitation.email):
        raise Conflict("An account with this email already exists")
    user = User(
        org_id=invitation.org_id,
        email=invitation.email,
        full_name=body.full_name.strip(),
        password_hash=hash_password(body.password),
        role=invitation.role,
        is_active=True,
        token_version=1,
    )
    session.add(user)
    invitation.accepted_at = datetime.now(UTC)
    session.flush()
    return user, session.get(Organization, invitation.org_id)
