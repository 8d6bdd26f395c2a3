"""Settings of the dashboard server, read from SPENDLENS_* environment variables and `.env`."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_API_URL = "http://127.0.0.1:8000"


class DashboardSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SPENDLENS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    api_url: str = Field(
        default=DEFAULT_API_URL,
        validation_alias=AliasChoices("SPENDLENS_API_URL", "api_url"),
        description="Base URL of the Spendlens API (without /api/v1)",
    )
    # Date presets ("last 30 days", ...) count back from this day. Unset means the real today;
    # tests and benchmarks pin it to the last day of the seeded demo data.
    dashboard_today: date | None = Field(
        default=None, validation_alias=AliasChoices("SPENDLENS_DASHBOARD_TODAY", "dashboard_today")
    )
    api_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias=AliasChoices("SPENDLENS_DASHBOARD_API_TIMEOUT", "api_timeout_seconds"),
    )
    worker_threads: int = Field(
        default=8,
        ge=1,
        validation_alias=AliasChoices("SPENDLENS_DASHBOARD_THREADS", "worker_threads"),
        description="Threads that call the API for sessions, so one slow call blocks nobody else",
    )

    @property
    def api_base(self) -> str:
        return self.api_url.rstrip("/") + "/api/v1"


@lru_cache
def get_settings() -> DashboardSettings:
    return DashboardSettings()
