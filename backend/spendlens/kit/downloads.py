"""Response headers of a file the API hands out as a download."""

from __future__ import annotations

from spendlens.kit.dates import HasTimezone, today_in_org_tz


def attachment(stem: str, extension: str, org: HasTimezone) -> dict[str, str]:
    """Content-Disposition of a download named `<stem>-<day>.<extension>`.

    The day is the organisation's (today_in_org_tz): the people who download the file live in
    its time zone, and a file exported on their Monday morning should not say Sunday (UTC) or
    whatever day the server's local clock shows.
    """
    name = f"{stem}-{today_in_org_tz(org).isoformat()}.{extension}"
    return {"Content-Disposition": f'attachment; filename="{name}"'}
