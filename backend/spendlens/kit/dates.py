"""Calendar days as an organisation sees them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def today_in(timezone: str) -> date:
    """Today's date in `timezone` (an IANA name); UTC when the name is unknown."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return datetime.now(zone).date()


def today_utc() -> date:
    """Today's date in UTC (the day the API's date filters and periods default to)."""
    return datetime.now(UTC).date()
