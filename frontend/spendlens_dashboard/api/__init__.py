"""The dashboard's only way to data: the Spendlens HTTP API."""

from spendlens_dashboard.api.client import ApiClient, ApiError, ApiUnreachable

__all__ = ["ApiClient", "ApiError", "ApiUnreachable"]
