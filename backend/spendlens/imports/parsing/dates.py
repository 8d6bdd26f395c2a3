"""SQL reading a cell as a date or a timestamp in the formats of an import plan: ISO 8601 and
M/D/Y by string slicing after one regular expression, any strptime pattern by regexp groups.
Every part is range-checked (day of the month included) before make_date / make_timestamptz.
"""

from __future__ import annotations

from spendlens.imports.formats import DateFormat
from spendlens.imports.parsing.query import Params

RE_HAS_OFFSET = "[Z+-]"
_MONTHS = "ARRAY['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']"


def _days_in_month(y: str, mo: str) -> str:
    leap = f"(mod({y}, 4) = 0 AND (mod({y}, 100) <> 0 OR mod({y}, 400) = 0))"
    return (
        f"(CASE WHEN {mo} IN (4, 6, 9, 11) THEN 30 WHEN {mo} = 2 THEN "
        f"(CASE WHEN {leap} THEN 29 ELSE 28 END) ELSE 31 END)"
    )


def _date_parts(m: str, fmt: DateFormat) -> dict[str, str]:
    g = fmt.groups

    def part(name: str) -> str:
        return f"CAST({m}[{g[name]}] AS integer)"

    if "year" in g:
        year = part("year")
    else:  # two-digit years pivot like Python's strptime: 69-99 → 19xx, 00-68 → 20xx
        year = f"({part('year2')} + CASE WHEN {part('year2')} < 69 THEN 2000 ELSE 1900 END)"
    if "month" in g:
        month = part("month")
    else:
        month = f"array_position({_MONTHS}, lower(left({m}[{g['month_name']}], 3)))"
    if "hour12" in g:
        pm = (
            f"(CASE WHEN upper({m}[{g['ampm']}]) = 'PM' THEN 12 ELSE 0 END)" if "ampm" in g else "0"
        )
        hour = f"(mod({part('hour12')}, 12) + {pm})"
    elif "hour" in g:
        hour = f"COALESCE({part('hour')}, 0)"
    else:
        hour = "0"
    minute = f"COALESCE({part('minute')}, 0)" if "minute" in g else "0"
    second = f"COALESCE({part('second')}, 0)" if "second" in g else "0"
    fraction = (
        f"COALESCE(CAST('0.' || {m}[{g['fraction']}] AS double precision), 0)"
        if "fraction" in g
        else "0"
    )
    checks = [
        f"{m} IS NOT NULL",
        f"{year} BETWEEN 1 AND 9999",
        f"{month} BETWEEN 1 AND 12",
        f"{part('day')} BETWEEN 1 AND {_days_in_month(year, month)}",
        f"{hour} BETWEEN 0 AND 23",
        f"{minute} BETWEEN 0 AND 59",
        f"{second} BETWEEN 0 AND 59",
    ]
    if "hour12" in g:
        checks.append(f"{part('hour12')} BETWEEN 1 AND 12")
    zone = None
    if "zone" in g:
        hours = f"COALESCE(CAST({m}[{g['zone_hours']}] AS integer), 0)"
        minutes = f"COALESCE(CAST({m}[{g['zone_minutes']}] AS integer), 0)"
        checks.append(f"{hours} <= 14 AND {minutes} <= 59")
        sign = f"(CASE WHEN {m}[{g['zone_sign']}] = '-' THEN -1 ELSE 1 END)"
        zone = (m, g["zone"], f"make_interval(hours => {hours}, mins => {minutes}) * {sign}")
    return {
        "year": year,
        "month": month,
        "day": part("day"),
        "hour": hour,
        "minute": minute,
        "seconds": f"({second} + {fraction})",
        "valid": " AND ".join(checks),
        "zone": zone,
    }


def _valid_day(y: str, mo: str, d: str) -> str:
    return f"({y} >= 1 AND {d} <= {_days_in_month(y, mo)})"


def _sliced(v: str, fmt: DateFormat) -> dict[str, str]:
    """Date parts of an ISO or M/D/Y value cut out with string functions (its format, and the
    ranges of month, hour, minute and second, were checked by the regular expression)."""
    if fmt.kind == "iso":
        part = {"y": (1, 4), "mo": (6, 2), "d": (9, 2)}
        ints = {k: f"CAST(substr({v}, {a}, {n}) AS integer)" for k, (a, n) in part.items()}
        return ints
    day, time = f"split_part({v}, ' ', 1)", f"split_part({v}, ' ', 2)"

    def number(text_sql: str) -> str:
        return f"CAST(COALESCE(NULLIF({text_sql}, ''), '0') AS integer)"

    return {
        "mo": f"CAST(split_part({day}, '/', 1) AS integer)",
        "d": f"CAST(split_part({day}, '/', 2) AS integer)",
        "y": f"CAST(split_part({day}, '/', 3) AS integer)",
        "h": number(f"split_part({time}, ':', 1)"),
        "mi": number(f"split_part({time}, ':', 2)"),
        "s": number(f"split_part({time}, ':', 3)"),
    }


def sliced_date(v: str, fmt: DateFormat, p: Params, tz: str | None) -> tuple[str, str]:
    """(is valid, value) for ISO or M/D/Y text `v`; a timestamptz when `tz` is given (the zone
    of times written without an offset), else a date."""
    parts = _sliced(v, fmt)
    y, mo, d = parts["y"], parts["mo"], parts["d"]
    valid = f"(CASE WHEN {v} ~ {p(fmt.regex)} THEN {_valid_day(y, mo, d)} ELSE false END)"
    if tz is None:
        return valid, f"make_date({y}, {mo}, {d})"
    if fmt.kind == "iso":
        value = (
            f"(CASE WHEN substr({v}, 11) ~ {p(RE_HAS_OFFSET)} THEN CAST({v} AS timestamptz) "
            f"ELSE CAST({v} AS timestamp) AT TIME ZONE {tz} END)"
        )
    else:
        value = f"make_timestamptz({y}, {mo}, {d}, {parts['h']}, {parts['mi']}, {parts['s']}, {tz})"
    return valid, value


def matched_timestamp(m: str, fmt: DateFormat, tz: str) -> tuple[str, str]:
    """(is valid, timestamptz value) for a regexp_match array `m`; times without an offset are
    read in the time zone `tz`."""
    d = _date_parts(m, fmt)
    args = f"{d['year']}, {d['month']}, {d['day']}, {d['hour']}, {d['minute']}, {d['seconds']}"
    local = f"make_timestamptz({args}, {tz})"
    if d["zone"] is None:
        return d["valid"], local
    array, index, offset = d["zone"]
    with_offset = f"((make_timestamp({args}) - {offset}) AT TIME ZONE 'UTC')"
    return d["valid"], f"(CASE WHEN {array}[{index}] IS NULL THEN {local} ELSE {with_offset} END)"


def matched_date(m: str, fmt: DateFormat) -> tuple[str, str]:
    d = _date_parts(m, fmt)
    return d["valid"], f"make_date({d['year']}, {d['month']}, {d['day']})"


def first_valid(options: list[tuple[str, str]]) -> str:
    return (
        "COALESCE(" + ", ".join(f"CASE WHEN {ok} THEN {value} END" for ok, value in options) + ")"
    )
