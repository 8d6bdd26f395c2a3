"""Days and times as the API gives them: today in UTC or in an organisation's time zone, and
timestamps leaving the API in UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator


class HasTimezone(Protocol):
    """An organisation, or a row of one: anything with its IANA time zone name."""

    timezone: str


def today_in(timezone: str) -> date:
    """Today's date in `timezone` (an IANA name); UTC when the name is unknown.

    Prefer `today_in_org_tz` when the organisation is at hand.
    """
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = UTC
    return datetime.now(zone).date()


def today_in_org_tz(org: HasTimezone) -> date:
    """Today as the organisation's people see it: the day in its time zone. What a person picks
    as "today" (segments and cohorts as of today, an export's file name) is this day."""
    return today_in(org.timezone)


def today_utc() -> date:
    """Today's date in UTC (the day the API's date filters and periods default to, since
    transactions are stored and filtered by UTC day)."""
    return datetime.now(UTC).date()


def to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


# Timestamps leave the API in UTC whatever the database session's time zone.
UtcDatetime = Annotated[datetime, AfterValidator(to_utc)]

# Days and times the API accepts: far wider than any spending history or forecast, and narrow
# enough that no UTC conversion, month series or interval arithmetic can overflow (year 9999 with
# a negative offset is past datetime's range; year 1 over 10,000 years of months is 7.9 MB).
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(2100, 12, 31)
_RANGE = f"between {EARLIEST_DAY.isoformat()} and {LATEST_DAY.isoformat()}"


def supported_day(value: date) -> date:
    if not EARLIEST_DAY <= value <= LATEST_DAY:
        raise ValueError(f"must be a day {_RANGE}")
    return value


def supported_instant(value: datetime) -> datetime:
    """Checked on the day as written (before any conversion, which could overflow)."""
    if not EARLIEST_DAY <= value.date() <= LATEST_DAY:
        raise ValueError(f"must be a time {_RANGE}")
    return value


# A calendar day the API accepts as input (queries and bodies).
Day = Annotated[date, AfterValidator(supported_day)]
