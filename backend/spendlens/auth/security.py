"""Password hashing (passlib API, argon2id) and JWT access tokens (python-jose, HS256 pinned)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from jose import JWTError, jwt
from passlib.context import CryptContext

from spendlens.config import Settings
from spendlens.errors import Unauthorized

ALGORITHM = "HS256"
# Longest password accepted anywhere; a longer one is refused before it reaches the hasher
# (argon2 cost grows with its input, and passlib raises on anything over 4096 bytes).
MAX_PASSWORD_LENGTH = 256

# argon2 (type ID) for new hashes; bcrypt hashes still verify and are upgraded on next login.
password_context = CryptContext(schemes=["argon2", "bcrypt"], deprecated="auto")

# Verified against when the email is unknown, so both failures take the same time.
_DUMMY_HASH = password_context.hash("spendlens-timing-equaliser")


def hash_password(password: str) -> str:
    return password_context.hash(password)


def verify_password(password: str, password_hash: str | None) -> tuple[bool, str | None]:
    """Check a password: (ok, new_hash), new_hash set when the stored hash needs upgrading."""
    try:
        if password_hash is None:
            password_context.verify(password, _DUMMY_HASH)
            return False, None
        return password_context.verify_and_update(password, password_hash)
    except (ValueError, TypeError):
        # A malformed stored hash, or a password passlib refuses to hash (PasswordSizeError).
        return False, None


def create_access_token(
    *, user_id: int, org_id: int, role: str, token_version: int, settings: Settings
) -> tuple[str, int]:
    """A signed token and its lifetime in seconds."""
    now = datetime.now(UTC)
    lifetime = timedelta(minutes=settings.access_token_minutes)
    claims = {
        "sub": str(user_id),
        "org": org_id,
        "role": role,
        "ver": token_version,
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
    }
    token = jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)
    return token, int(lifetime.total_seconds())


def decode_access_token(token: str, settings: Settings) -> dict[str, Any]:
    """Verified claims, or Unauthorized for anything tampered, expired, foreign or incomplete."""
    try:
        header = jwt.get_unverified_header(token)
    except JWTError:
        raise Unauthorized("Invalid token")
    if header.get("alg") != ALGORITHM:
        raise Unauthorized("Invalid token")
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={
                "require_exp": True,
                "require_iat": True,
                "require_aud": True,
                "require_iss": True,
                "require_sub": True,
            },
        )
    except JWTError:
        raise Unauthorized("Invalid or expired token")
    for claim in ("org", "ver"):
        if not isinstance(claims.get(claim), int):
            raise Unauthorized("Invalid token")
    return claims
