"""Login with lock-out, signup, and token issuing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spendlens.auth.security import create_access_token, hash_password, verify_password
from spendlens.config import Settings
from spendlens.errors import Conflict, Forbidden, TooManyRequests, Unauthorized
from spendlens.models import LoginFailure, Organization, Role, User

INVALID_CREDENTIALS = "Incorrect email or password"


def normalize_email(email: str) -> str:
    return email.strip().lower()


def issue_token(user: User, settings: Settings) -> tuple[str, int]:
    return create_access_token(
        user_id=user.id,
        org_id=user.org_id,
        role=user.role,
        token_version=user.token_version,
        settings=settings,
    )


def _lockout_retry_after(session: Session, email: str, settings: Settings) -> int | None:
    """Seconds until login is allowed again for this email, or None when it is not locked."""
    window_start = datetime.now(UTC) - timedelta(seconds=settings.login_window_seconds)
    count, oldest = session.execute(
        select(func.count(), func.min(LoginFailure.failed_at)).where(
            LoginFailure.email == email, LoginFailure.failed_at > window_start
        )
    ).one()
    if count < settings.login_max_failures:
        return None
    # The lock lifts when enough of the failures have aged out of the window.
    nth_newest = session.execute(
        select(LoginFailure.failed_at)
        .where(LoginFailure.email == email, LoginFailure.failed_at > window_start)
        .order_by(LoginFailure.failed_at.desc())
        .offset(settings.login_max_failures - 1)
        .limit(1)
    ).scalar_one()
    unlock_at = nth_newest + timedelta(seconds=settings.login_window_seconds)
    return max(1, int((unlock_at - datetime.now(UTC)).total_seconds()) + 1)


def authenticate(session: Session, email: str, password: str, settings: Settings) -> User:
    email = normalize_email(email)
    retry_after = _lockout_retry_after(session, email, settings)
    if retry_after is not None:
        raise TooManyRequests(
            "Too many failed login attempts; try again later", retry_after=retry_after
        )

    user = session.execute(select(User).where(User.email == email)).scalar_one_or_none()
    ok, new_hash = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        session.add(LoginFailure(email=email))
        # The failure must outlive the 401 that the request ends with (the request's
        # transaction is rolled back on error), so it is committed here.
        session.commit()
        raise Unauthorized(INVALID_CREDENTIALS)

    if new_hash:
        user.password_hash = new_hash
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    session.flush()
    return user


def _slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    return slug[:80] or "org"


def unique_slug(session: Session, name: str) -> str:
    base = _slugify(name)
    slug, n = base, 1
    while session.execute(select(Organization.id).where(Organization.slug == slug)).first():
        n += 1
        slug = f"{base}-{n}"
    return slug


def email_taken(session: Session, email: str) -> bool:
    return session.execute(select(User.id).where(User.email == email)).first() is not None


def signup(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str,
    organization_name: str,
    base_currency: str,
    settings: Settings,
) -> tuple[User, Organization]:
    if not settings.signup_enabled:
        raise Forbidden("Signup is disabled on this server")
    email = normalize_email(email)
    if email_taken(session, email):
        raise Conflict("An account with this email already exists")
    org = Organization(
        name=organization_name.strip(),
        slug=unique_slug(session, organization_name),
        base_currency=base_currency,
        timezone="UTC",
    )
    session.add(org)
    session.flush()
    user = User(
        org_id=org.id,
        email=email,
        full_name=full_name.strip(),
        password_hash=hash_password(password),
        role=Role.admin.value,
        is_active=True,
        token_version=1,
    )
    session.add(user)
    session.flush()
    return user, org
