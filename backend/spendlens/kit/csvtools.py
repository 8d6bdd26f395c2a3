"""CSV writing for exports: one line at a time, with spreadsheet formula injection neutralised."""

from __future__ import annotations

import re
from collections.abc import Iterable

# A cell (or a line inside a multi-line cell) starting with one of these is run as a formula by
# spreadsheet programs.
_FORMULA_STARTS = "=+-@\t\r"
# The start of the text, or a line break, followed by a formula start. A lookahead, so that
# "\r\r=1" neutralises both lines: the match at one break does not consume the next.
_FORMULA_AT_LINE_START = re.compile(r"(^|[\r\n])(?=[" + re.escape(_FORMULA_STARTS) + "])")
# Python's csv module quotes only the characters of its own line terminator, so with "\n" a bare
# CR went out unquoted and a spreadsheet started a new row at it: every one of these is quoted.
_NEEDS_QUOTES = re.compile(r'[",\r\n]')


def neutralise_formula(value: str) -> str:
    """Text that a spreadsheet would evaluate is prefixed with a quote so it stays text; so is
    every line of a multi-line value, since some programs split cells at embedded line breaks."""
    if not value:
        return value
    return _FORMULA_AT_LINE_START.sub(r"\1'", value)


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    if _NEEDS_QUOTES.search(text):
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(values: Iterable[object]) -> str:
    """One CSV record ending in "\\n"; a field holding a quote, comma, CR or LF is quoted."""
    return ",".join(_cell(value) for value in values) + "\n"
