"""Request rate limits (the `limits` library, moving windows): every API call counts per token and
per client address, and login, signup and invitation acceptance have their own stricter limit per
address. Counters live in Redis when SPENDLENS_REDIS_URL is set, so every API process shares them,
and in the process's memory otherwise. Over a limit the answer is 429 with Retry-After."""

from __future__ import annotations

import logging
import math
import time
from typing import Annotated

from fastapi import Depends, Request
from limits import RateLimitItem, parse_many
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from spendlens.auth.dependencies import oauth2_scheme
from spendlens.auth.security import decode_access_token
from spendlens.config import Settings
from spendlens.errors import AppError, TooManyRequests
from spendlens.events.keys import is_ingest_key, key_hash

logger = logging.getLogger("spendlens.ratelimit")


class RateLimiter:
    """The limits of one app and the storage that counts them."""

    def __init__(self, settings: Settings, *, key_prefix: str = "spendlens") -> None:
        self.enabled = settings.rate_limit_enabled
        storage: Storage
        if settings.redis_url:
            storage = storage_from_string(settings.redis_url, key_prefix=key_prefix)
        else:
            storage = MemoryStorage()
        self.storage = storage
        self.strategy = MovingWindowRateLimiter(storage)
        self.per_token = parse_many(settings.rate_limit_per_token)
        self.per_address = parse_many(settings.rate_limit_per_address)
        self.login = parse_many(settings.rate_limit_login)
        self.signup = parse_many(settings.rate_limit_signup)
        self.per_ingest_key = parse_many(settings.rate_limit_per_ingest_key)

    def hit(self, scope: str, key: str, items: list[RateLimitItem]) -> None:
        """Count one request of `key` against each limit; TooManyRequests once one is exceeded."""
        if not self.enabled:
            return
        for item in items:
            try:
                allowed = self.strategy.hit(item, scope, key)
            except Exception:  # noqa: BLE001 - any storage failure
                # An unreachable Redis must not take the API down with it: the per-email login
                # lock-out (in PostgreSQL) still holds meanwhile.
                logger.warning("rate-limit storage unavailable; request let through", exc_info=True)
                return
            if not allowed:
                reset_at = self.strategy.get_window_stats(item, scope, key).reset_time
                retry_after = max(1, math.ceil(reset_at - time.time()))
                raise TooManyRequests(
                    f"Rate limit of {item.amount} per {_period(item)} exceeded; "
                    f"try again in {retry_after} s",
                    retry_after=retry_after,
                )


def _period(item: RateLimitItem) -> str:
    unit = item.GRANULARITY.name
    return unit if item.multiples == 1 else f"{item.multiples} {unit}s"


def client_address(request: Request) -> str:
    # Behind a reverse proxy, run uvicorn with --forwarded-allow-ips so this is the real client.
    return request.client.host if request.client else "unknown"


def _limiter(request: Request) -> RateLimiter:
    return request.app.state.rate_limiter


def limit_api_call(request: Request, token: Annotated[str | None, Depends(oauth2_scheme)]) -> None:
    """Every /api/v1 call: per client address, and per user for a valid token (all of one user's
    tokens share a budget) or per ingest key. A call without a valid token counts per address
    only."""
    limiter = _limiter(request)
    limiter.hit("address", client_address(request), limiter.per_address)
    if token and is_ingest_key(token):
        # Counted per key (by its hash: the secret itself is never a storage key).
        limiter.hit("ingest_key", key_hash(token)[:32], limiter.per_ingest_key)
        return
    if token:
        try:
            claims = decode_access_token(token, request.app.state.settings)
        except AppError:
            return  # the route's own dependency answers 401
        limiter.hit("user", f"{claims['sub']}", limiter.per_token)


def limit_login(request: Request) -> None:
    """Login attempts per client address (a password spray over many emails stops here)."""
    limiter = _limiter(request)
    limiter.hit("login", client_address(request), limiter.login)


def limit_signup(request: Request) -> None:
    """Signups and invitation acceptances per client address."""
    limiter = _limiter(request)
    limiter.hit("signup", client_address(request), limiter.signup)
