"""Typed settings for the API service, read from SPENDLENS_* environment variables and `.env`."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from limits import parse_many
from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# The value shipped in .env.example; refused outside local and test so nobody runs production on it.
EXAMPLE_SECRET_KEY = "change-me-this-is-not-a-secret"

Environment = Literal["local", "test", "production"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPENDLENS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    env: Environment = "local"
    database_url: str = Field(
        default="postgresql+psycopg2://postgres@127.0.0.1:5432/spendlens",
        validation_alias=AliasChoices("SPENDLENS_DATABASE_URL", "DATABASE_URL"),
    )
    # The API, the worker and `spendlens import` connect as the application role, which is not
    # the tables' owner and cannot bypass row-level security (README: "Row-level security").
    # Unset: the owner URL above with the user `app_db_role` and the password `app_db_password`.
    app_database_url: str | None = None
    app_db_role: str = Field(default="spendlens_app", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    app_db_password: str | None = None
    secret_key: str = EXAMPLE_SECRET_KEY
    jwt_issuer: str = "spendlens"
    jwt_audience: str = "spendlens-api"
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    # Unset: on in local and test, off in production (where admins invite people instead).
    signup_enabled: bool | None = None
    # New passwords need at least this zxcvbn score (0-4; 3 = "safely unguessable").
    password_min_score: int = Field(default=3, ge=0, le=4)
    invitation_days: int = Field(default=7, ge=1, le=90)
    cors_origins: list[str] = ["http://127.0.0.1:5006", "http://localhost:5006"]
    login_max_failures: int = Field(default=10, ge=1)
    login_window_seconds: int = Field(default=15 * 60, ge=1)
    log_level: str = "INFO"
    # --- Database concurrency and timeouts (README: "Concurrency and the database") ---
    # Requests that may use the database at once (the admission gate); the pool holds this many
    # connections plus as many again in overflow, plus one per streamed-export slot.
    db_pool_size: int = Field(default=10, ge=1)
    # Streamed exports that may read at once, beside the requests above.
    db_stream_slots: int = Field(default=4, ge=1)
    # How long a request waits for the gate (or a stream for its slot) before 503 + Retry-After.
    db_admission_timeout_seconds: float = Field(default=20.0, gt=0)
    # How long a checkout waits for a free pooled connection before 503 + Retry-After.
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0)
    # Server-side limits of the API's sessions (0 = none); background jobs lift them.
    db_statement_timeout_seconds: float = Field(default=60.0, ge=0)
    db_lock_timeout_seconds: float = Field(default=5.0, ge=0)
    db_idle_in_transaction_timeout_seconds: float = Field(default=60.0, ge=0)
    # A streamed download whose client accepts no chunk for this long is closed.
    stream_send_timeout_seconds: float = Field(default=15.0, gt=0)
    # The Retry-After (seconds) of a 503 caused by the database being busy or unreachable.
    db_retry_after_seconds: int = Field(default=5, ge=1)
    # --- end of database concurrency settings ---
    # Largest accepted import upload (bytes); bigger ones get 413 before they are read.
    max_upload_bytes: int = Field(default=200 * 1024 * 1024, ge=1)
    # Daily RFM snapshots older than this many days are thinned to the last one of each month
    # (a nightly task); 0 keeps every snapshot.
    rfm_daily_snapshot_days: int = Field(default=400, ge=0)
    # Where rate-limit counters live: Redis when set (shared by every API process), else memory.
    redis_url: str | None = None
    # Rate limits in the `limits` notation ("30/minute", several separated by ";").
    rate_limit_enabled: bool = True
    rate_limit_per_token: str = "1200/minute"
    # Per client address over every API call: the dashboard server is one address for all its
    # users, so this is the wider of the two.
    rate_limit_per_address: str = "6000/minute"
    rate_limit_login: str = "30/minute"
    rate_limit_signup: str = "10/minute;20/hour"
    # Per ingest key (POST /events only): 6,000 batches of up to 1,000 events a minute.
    rate_limit_per_ingest_key: str = "6000/minute"
    # --- Alert delivery (README: "Alerts") ---
    # Webhooks to private, loopback, link-local and other non-public addresses are refused
    # unless this is set (a receiver on your own network, the tests' local receiver).
    webhooks_allow_private: bool = False
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    # Alert emails go through this SMTP server; unset, email deliveries fail with that reason.
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = "Spendlens alerts <alerts@spendlens.invalid>"
    smtp_starttls: bool = True
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)

    @field_validator(
        "rate_limit_per_token",
        "rate_limit_per_address",
        "rate_limit_login",
        "rate_limit_signup",
        "rate_limit_per_ingest_key",
    )
    @classmethod
    def _parse_rate_limit(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                f"not a rate limit such as '30/minute' or '10/minute;100/hour': {value}"
            )
        return value

    @model_validator(mode="after")
    def _signup_default(self) -> "Settings":
        if self.signup_enabled is None:
            self.signup_enabled = self.env != "production"
        return self

    @model_validator(mode="after")
    def _refuse_example_secret(self) -> "Settings":
        if self.env not in ("local", "test") and self.secret_key == EXAMPLE_SECRET_KEY:
            raise ValueError(
                "SPENDLENS_SECRET_KEY is the example default; set a real secret outside local/test"
            )
        if self.env not in ("local", "test") and len(self.secret_key) < 32:
            raise ValueError("SPENDLENS_SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        """The owner's DSN (migrations, the demo seed, backups) with the psycopg2 driver named,
        whatever form DATABASE_URL was given in."""
        return normalize_database_url(self.database_url)

    @property
    def app_sqlalchemy_url(self) -> str:
        """The application role's DSN: everything that serves or processes tenants' data."""
        if self.app_database_url:
            return normalize_database_url(self.app_database_url)
        from sqlalchemy.engine import URL, make_url

        owner = make_url(self.sqlalchemy_url)
        # Never the owner's password (URL.set would keep it when ours is None).
        url = URL.create(
            owner.drivername,
            username=self.app_db_role,
            password=self.app_db_password,
            host=owner.host,
            port=owner.port,
            database=owner.database,
            query=owner.query,
        )
        return url.render_as_string(hide_password=False)


def normalize_database_url(url: str) -> str:
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix) :]
    return url


@lru_cache
def get_settings() -> Settings:
    return Settings()
