"""Monthly partitions of `events`: `events_pYYYYMM` holds the UTC month YYYY-MM, and
`events_default` everything no monthly partition covers (an event in 1950 or 2090 still lands).

`ensure_partitions` creates missing months; rows of such a month already in the default
partition are moved into the new partition in the same transaction (PostgreSQL refuses a
partition whose rows sit in the default one). The periodic task in spendlens.events.tasks keeps
the months ahead created; the demo seed creates the months it fills.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, text

DEFAULT_PARTITION = "events_default"


def month_start(day: date) -> date:
    return day.replace(day=1)


def add_months(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def partition_name(month: date) -> str:
    return f"events_p{month:%Y%m}"


def months_between(first: date, last: date) -> list[date]:
    """The first days of the months from `first`'s to `last`'s, both included."""
    months, month = [], month_start(first)
    while month <= month_start(last):
        months.append(month)
        month = add_months(month, 1)
    return months


def existing_partitions(conn: Connection) -> set[str]:
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'events'::regclass"
        )
    ).scalars()
    return set(rows)


def _bound(month: date) -> str:
    return datetime.combine(month, datetime.min.time(), tzinfo=UTC).isoformat()


def create_month(conn: Connection, month: date) -> int:
    """Create the partition of `month` (its first day), moving its rows out of the default
    partition; the number of rows moved. Call inside a transaction.

    Through the owner's function `spendlens_create_event_partition` (migration 0010): the
    application role owns no table, so it cannot create or attach one itself. The function locks
    the default partition first, so no insert reaches it between the move and the attach."""
    return conn.execute(
        text("SELECT spendlens_create_event_partition(CAST(:month AS date))"),
        {"month": month.isoformat()},
    ).scalar_one()


def ensure_partitions(conn: Connection, first: date, last: date) -> dict[str, int]:
    """Create every missing monthly partition from `first`'s month to `last`'s; the partitions
    created, with the rows each took over from the default partition."""
    present = existing_partitions(conn)
    created = {}
    for month in months_between(first, last):
        name = partition_name(month)
        if name not in present:
            created[name] = create_month(conn, month)
    return created
