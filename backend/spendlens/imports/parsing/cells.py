"""SQL reading one cell of text as a number, a country or trimmed text, without ever raising:
each value is matched by a regular expression before it is cast, and is NULL when it does not fit.
"""

from __future__ import annotations

import json

from spendlens.imports.countries import COUNTRY_CODES
from spendlens.imports.parsing.query import Params

RE_INT = r"^[+-]?[0-9]{1,9}([.,]0*)?$"
RE_DECIMAL_POINT = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"
RE_DECIMAL_COMMA = r"^[+-]?([0-9]+(,[0-9]*)?|,[0-9]+)$"
RE_SPREADSHEET_ID = r"^[0-9]+\.0+$"  # 12346.0: a number that went through a spreadsheet
RE_DATABASE_ID = r"^[0-9]{1,18}$"
RE_COUNTRY_CODE = r"^[A-Za-z]{2}$"
RE_CURRENCY = r"^[A-Za-z]{3}$"
# A cell our CSV export protected against spreadsheet formulas ('=…, '+…): the quote is ours.
RE_NEUTRALISED = "^'[=+@\t\r-]"
# The same guard at the start of every line of a multi-line cell (the export puts it there too).
RE_NEUTRALISED_LINES = "(^|[\r\n])'(?=[=+@\t\r-])"
RE_EMAIL = r"^[^@[:space:]]+@[^@[:space:]]+\.[^@[:space:]]+$"


def integer(v: str, p: Params) -> str:
    # split_part, not substring(… from pattern): regex captures are slow in PostgreSQL.
    return (
        f"CASE WHEN {v} ~ {p(RE_INT)} "
        f"THEN CAST(split_part(translate({v}, ',', '.'), '.', 1) AS integer) END"
    )


def decimal(v: str, p: Params, comma: bool) -> str:
    if comma:
        regex, cast = RE_DECIMAL_COMMA, f"CAST(replace({v}, ',', '.') AS numeric)"
    else:
        regex, cast = RE_DECIMAL_POINT, f"CAST({v} AS numeric)"
    return f"CASE WHEN {v} ~ {p(regex)} THEN {cast} END"


def trimmed(v: str) -> str:
    return f"NULLIF(btrim({v}), '')"


def without_spreadsheet_decimals(v: str, p: Params) -> str:
    """An id such as 12346.0 (a number a spreadsheet rewrote) as 12346; other text unchanged."""
    # strpos first: most ids have no point, and it is much cheaper than the regular expression.
    return (
        f"CASE WHEN strpos({v}, '.') > 0 AND {v} ~ {p(RE_SPREADSHEET_ID)} "
        f"THEN split_part({v}, '.', 1) ELSE {v} END"
    )


def country(v: str, p: Params, strict: bool) -> tuple[str, str]:
    """(ISO code or null, condition for "not a country") from a code or a country name."""
    names = p(json.dumps(COUNTRY_CODES))
    lookup = f"(CAST({names} AS jsonb) -> lower({v}))"
    code = (
        f"(CASE WHEN {lookup} IS NOT NULL THEN NULLIF({lookup} #>> '{{}}', '') "
        f"WHEN {v} ~ {p(RE_COUNTRY_CODE)} THEN upper({v}) END)"
    )
    unknown = f"({v} IS NOT NULL AND {code} IS NULL AND {lookup} IS NULL)" if strict else "false"
    return code, unknown
