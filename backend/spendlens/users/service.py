"""User management: unique emails, admins cannot lock themselves out, changes revoke tokens."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from spendlens.auth.passwords import check_new_password
from spendlens.auth.security import hash_password
from spendlens.auth.service import email_taken, normalize_email
from spendlens.config import Settings
from spendlens.errors import Conflict, NotFound
from spendlens.models import User
from spendlens.users.schemas import UserCreate, UserUpdate


def list_users(session: Session, org_id: int, *, skip: int, limit: int) -> tuple[list[User], int]:
    where = User.org_id == org_id
    total = session.execute(select(func.count()).select_from(User).where(where)).scalar_one()
    users = (
        session.execute(select(User).where(where).order_by(User.id).offset(skip).limit(limit))
        .scalars()
        .all()
    )
    return list(users), total


def get_user(session: Session, org_id: int, user_id: int) -> User:
    user = session.execute(
        select(User).where(User.org_id == org_id, User.id == user_id)
    ).scalar_one_or_none()
    if user is None:
        raise NotFound("User not found")
    return user


def create_user(session: Session, org_id: int, body: UserCreate, settings: Settings) -> User:
    email = normalize_email(body.email)
    check_new_password(
        body.password,
        min_score=settings.password_min_score,
        user_inputs=(email, body.full_name),
    )
    if email_taken(session, email):
        raise Conflict("An account with this email already exists")
    user = User(
        org_id=org_id,
        email=email,
        full_name=body.full_name.strip(),
        password_hash=hash_password(body.password),
        role=body.role.value,
        is_active=True,
        token_version=1,
    )
    session.add(user)
    session.flush()
    return user


def update_user(session: Session, actor: User, user_id: int, body: UserUpdate) -> User:
    user = get_user(session, actor.org_id, user_id)
    if user.id == actor.id and (
        (body.role is not None and body.role.value != user.role) or body.is_active is False
    ):
        raise Conflict("Admins cannot change their own role or deactivate themselves")
    revoke = False
    if body.full_name is not None:
        user.full_name = body.full_name.strip()
    if body.role is not None and body.role.value != user.role:
        user.role = body.role.value
        revoke = True
    if body.is_active is not None and body.is_active != user.is_active:
        user.is_active = body.is_active
        revoke = revoke or not body.is_active
    if revoke:
        # Tokens carry the version they were issued under; bumping it revokes them all.
        user.token_version += 1
    session.flush()
    return user
