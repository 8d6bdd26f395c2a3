"""The pieces every generated parse query is made of: bind parameters, row checks, the result."""

from __future__ import annotations

from dataclasses import dataclass, field


class Params:
    """Bind parameters collected while SQL text is generated (values never enter the text)."""

    def __init__(self, **initial: object) -> None:
        self.values: dict[str, object] = dict(initial)

    def __call__(self, value: object) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f":{name}"


@dataclass
class Check:
    """One rule of a row: when `condition` holds, the row gets (column, value, reason)."""

    condition: str
    column: str
    value: str
    reason: str


@dataclass
class ParseQuery:
    """A SELECT producing the typed rows, with the parameters it needs."""

    sql: str
    params: dict[str, object]
    columns: list[str] = field(default_factory=list)


def first_problem(checks: list[Check], p: Params) -> str:
    """A text[] expression: (column, value, reason) of the first check that holds, or NULL."""
    if not checks:
        return "CAST(NULL AS text[])"
    whens = " ".join(
        f"WHEN {c.condition} THEN ARRAY[{c.column}, left({c.value}, 200), {p(c.reason)}]"
        for c in checks
    )
    return f"CASE {whens} END"
