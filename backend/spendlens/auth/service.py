"""Login with lock-out, signup, password changes, and token issuing."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from spendlens.auth.passwords import check_new_password
from spendlens.auth.security import (
    MAX_PASSWORD_LENGTH,
    create_access_token,
    hash_password,
    verify_password,
)
from spendlens.config import Settings
from spendlens.errors import Forbidden, TooManyRequests, Unauthorized
from spendlens.models import LoginFailure, Organization, Role, User
from spendlens.tenancy import bind_org, org_of_email

INVALID_CREDENTIALS = "Incorrect email or password"
# The length of the email columns: no account has a longer one.
MAX_EMAIL_LENGTH = 320
# First key of the advisory lock that serialises the lock-out count of one email.
_LOGIN_LOCK_NAMESPACE = 0x5E1D
SIGNUP_ACCEPTED = (
    "If this email can be used, the organisation and its admin account now exist: log in with "
    "the email and password you chose."
)


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


def _reserve_attempt(session: Session, email: str, settings: Settings) -> None:
    """Count this attempt as a failure before the password is checked, or refuse it (429).

    Checking the count and adding to it happen under a per-email advisory lock, so parallel
    attempts cannot all read "9 failures" and all be evaluated: exactly `login_max_failures`
    attempts are evaluated in a window. A successful login clears the count again.
    """
    session.execute(select(func.pg_advisory_xact_lock(_LOGIN_LOCK_NAMESPACE, func.hashtext(email))))
    retry_after = _lockout_retry_after(session, email, settings)
    if retry_after is not None:
        raise TooManyRequests(
            "Too many failed login attempts; try again later", retry_after=retry_after
        )
    session.add(LoginFailure(email=email))
    # Committed now (releasing the lock): the failure must count for the attempts running
    # beside this one, and must outlive the 401 that rolls back the request's transaction.
    session.commit()


def authenticate(session: Session, email: str, password: str, settings: Settings) -> User:
    email = normalize_email(email)
    if len(email) > MAX_EMAIL_LENGTH:
        raise Unauthorized(INVALID_CREDENTIALS)
    _reserve_attempt(session, email, settings)
    # Too long to be anyone's password: refused before the hasher sees it, with the same answer
    # for known and unknown emails.
    if len(password) > MAX_PASSWORD_LENGTH:
        raise Unauthorized(INVALID_CREDENTIALS)

    # Emails are unique across organisations: find the account's organisation first (the one
    # lookup that must see them all), then read the user through its policy.
    org_id = org_of_email(session, email)
    user = None
    if org_id is not None:
        bind_org(session, org_id)
        user = session.execute(
            select(User).where(User.org_id == org_id, User.email == email)
        ).scalar_one_or_none()
    # An unknown email is verified against a dummy hash, so it takes as long as a known one.
    ok, new_hash = verify_password(password, user.password_hash if user else None)
    if user is None or not ok or not user.is_active:
        raise Unauthorized(INVALID_CREDENTIALS)

    if new_hash:
        user.password_hash = new_hash
    session.execute(delete(LoginFailure).where(LoginFailure.email == email))
    session.flush()
    return user


def change_password(
    session: Session, user: User, current: str, new: str, settings: Settings
) -> User:
    """Set a new password (policy-checked) after the current one is verified; every token issued
    before is revoked."""
    if len(current) > MAX_PASSWORD_LENGTH or not verify_password(current, user.password_hash)[0]:
        raise Unauthorized("The current password is not correct")
    check_new_password(
        new,
        min_score=settings.password_min_score,
        user_inputs=(user.email, user.full_name),
        loc=("body", "new_password"),
    )
    user.password_hash = hash_password(new)
    user.token_version += 1
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
    """Whether any organisation has an account with this email (they are unique)."""
    return org_of_email(session, email) is not None


def signup(
    session: Session,
    *,
    email: str,
    password: str,
    full_name: str,
    organization_name: str,
    base_currency: str,
    settings: Settings,
) -> None:
    """Create an organisation with its first admin, unless the email has an account already.

    Both cases answer alike (and both hash the password), so signup does not tell anyone which
    emails have accounts.
    """
    if not settings.signup_enabled:
        raise Forbidden("Signup is disabled on this server")
    email = normalize_email(email)
    check_new_password(
        password,
        min_score=settings.password_min_score,
        user_inputs=(email, full_name, organization_name),
    )
    password_hash = hash_password(password)
    if email_taken(session, email):
        return
    org = Organization(
        name=organization_name.strip(),
        slug=unique_slug(session, organization_name),
        base_currency=base_currency,
        timezone="UTC",
    )
    session.add(org)
    session.flush()
    bind_org(session, org.id)  # the new organisation's first row (row-level security)
    session.add(
        User(
            org_id=org.id,
            email=email,
            full_name=full_name.strip(),
            password_hash=password_hash,
            role=Role.admin.value,
            is_active=True,
            token_version=1,
        )
    )
    session.flush()
