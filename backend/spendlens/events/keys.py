"""Ingest keys: per-organisation secrets that may post events and nothing else.

A key is `slk_` followed by 256 random bits (URL-safe base64); only its SHA-256 is stored, with
its first characters (`prefix`) to recognise it by. The secret is answered once, at creation. A
revoked key stays listed (with `revoked_at`) and authenticates nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from spendlens.errors import NotFound
from spendlens.models import IngestKey, User
from spendlens.tenancy import bind_org, org_of_ingest_key

INGEST_KEY_PREFIX = "slk_"
SHOWN_PREFIX_LENGTH = 12  # "slk_" and 8 characters of the secret
# last_used_at is written at most this often per key, so concurrent batches of one key do not
# queue on its row.
LAST_USED_RESOLUTION = timedelta(minutes=1)


def is_ingest_key(token: str) -> bool:
    return token.startswith(INGEST_KEY_PREFIX)


def key_hash(secret: str) -> str:
    # 256 random bits: a fast hash is enough to make a stolen table useless.
    return hashlib.sha256(secret.encode()).hexdigest()


def create(session: Session, admin: User, name: str) -> tuple[IngestKey, str]:
    """A new key of the admin's organisation and its secret (never stored as such)."""
    secret = INGEST_KEY_PREFIX + secrets.token_urlsafe(32)
    key = IngestKey(
        org_id=admin.org_id,
        name=name,
        key_hash=key_hash(secret),
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        created_by=admin.id,
    )
    session.add(key)
    session.flush()
    session.refresh(key)
    return key, secret


def list_keys(
    session: Session, org_id: int, *, skip: int, limit: int
) -> tuple[list[IngestKey], int]:
    """The organisation's keys, revoked ones included, newest first."""
    where = IngestKey.org_id == org_id
    total = session.execute(select(func.count()).select_from(IngestKey).where(where)).scalar_one()
    rows = session.execute(
        select(IngestKey).where(where).order_by(IngestKey.id.desc()).offset(skip).limit(limit)
    ).scalars()
    return list(rows), total


def revoke(session: Session, org_id: int, key_id: int) -> IngestKey:
    """Revoke a key of the organisation (again: no change); another organisation's is 404."""
    key = session.execute(
        select(IngestKey).where(IngestKey.org_id == org_id, IngestKey.id == key_id)
    ).scalar_one_or_none()
    if key is None:
        raise NotFound("Ingest key not found")
    if key.revoked_at is None:
        key.revoked_at = datetime.now(UTC)
        session.flush()
    return key


def authenticate(session: Session, secret: str) -> IngestKey | None:
    """The live key whose secret this is (None: unknown or revoked), its use recorded."""
    hashed = key_hash(secret)
    # The key names its organisation (the one lookup across organisations, by the owner's
    # function); the request is that organisation's from here on (row-level security).
    org_id = org_of_ingest_key(session, hashed)
    if org_id is None:
        return None
    bind_org(session, org_id)
    key = session.execute(
        select(IngestKey).where(
            IngestKey.org_id == org_id,
            IngestKey.key_hash == hashed,
            IngestKey.revoked_at.is_(None),
        )
    ).scalar_one_or_none()
    if key is None:
        return None
    now = datetime.now(UTC)
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        session.execute(
            update(IngestKey)
            .where(
                IngestKey.org_id == key.org_id,
                IngestKey.id == key.id,
                (IngestKey.last_used_at.is_(None))
                | (IngestKey.last_used_at <= now - LAST_USED_RESOLUTION),
            )
            .values(last_used_at=now)
            .execution_options(synchronize_session=False)
        )
    return key
