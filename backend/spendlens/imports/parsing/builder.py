"""The SELECT a parse query is assembled in: three nested levels over the staging table, the
rows' checks and skips, and the output columns."""

from __future__ import annotations

from spendlens.imports.formats import SourcePlan
from spendlens.imports.parsing.cells import RE_NEUTRALISED, RE_NEUTRALISED_LINES, trimmed
from spendlens.imports.parsing.dates import (
    first_valid,
    matched_date,
    matched_timestamp,
    sliced_date,
)
from spendlens.imports.parsing.query import Check, Params, ParseQuery, first_problem
from spendlens.imports.schemas import ImportFormat

# Free text that a native file carries exactly (not trimmed), so export → import → export
# gives the same file. Keys (external ids) are always trimmed.
EXACT_TEXT = {"description", "category", "merchant", "customer_name", "name"}
# Keys and emails are trimmed, but carry the export's formula guard too (an id `=X1` is
# exported as `'=X1`), which a native import takes off again.
GUARDED_KEYS = {"external_id", "customer_ref", "email"}


class RowsBuilder:
    """Three nested SELECTs over the staging table: level 1 reads each row's text (and what
    depends on that row alone), level 2 derives typed values and windows, level 3 applies the
    rules and names the output columns. OFFSET 0 keeps PostgreSQL from merging the levels, which
    would evaluate each expression once per reference instead of once per row.

    `checks` make a row a problem, `skips` make the format leave it out; the first that holds
    is reported.
    """

    def __init__(self, plan: SourcePlan, staging: str) -> None:
        self.plan = plan
        self.p = Params()
        self.online_retail = plan.format is ImportFormat.online_retail
        # Native files (our own export's layout, as CSV or JSON) are read exactly and strictly.
        self.native = plan.format in (ImportFormat.native_csv, ImportFormat.json)
        self.neutralised = self.p(RE_NEUTRALISED) if self.native else ""
        self.aliases: set[str] = set()
        self.staging = staging
        self.level1: list[str] = ["s.row_no"]
        self.level2: list[str] = ["l1.row_no"]
        self.windows: list[str] = []
        self.checks: list[Check] = []
        self.skips: list[Check] = []

    def column(self, name: str) -> str:
        """The header name of a field's column, as a bind parameter (for problem reports)."""
        return self.p(self.plan.columns[name].name)

    def raw(self, name: str) -> str:
        """A field's trimmed text, for level-2 expressions (NULL when the file has no such
        column)."""
        if name not in self.plan.columns:
            return "CAST(NULL AS text)"
        alias = f"r_{name}"
        if alias in self.aliases:
            return f"l1.{alias}"
        self.aliases.add(alias)
        ref = self.plan.columns[name].ref
        if self.native and name in EXACT_TEXT:
            value = f"NULLIF({ref}, '')"
            pattern, keep_break = self.p(RE_NEUTRALISED_LINES), self.p(r"\1")
            expression = f"regexp_replace({value}, {pattern}, {keep_break}, 'g') AS {alias}"
        elif self.native and name in GUARDED_KEYS:
            value = trimmed(ref)
            expression = (
                f"CASE WHEN {value} ~ {self.neutralised} THEN btrim(substr({value}, 2)) "
                f"ELSE {value} END AS {alias}"
            )
        else:
            expression = f"{trimmed(ref)} AS {alias}"
        self.level1.append(expression)
        self.level2.append(f"l1.{alias}")
        return f"l1.{alias}"

    def source(self, name: str) -> str:
        """A field's trimmed text, for level-1 expressions (straight from the staging row)."""
        return trimmed(self.plan.columns[name].ref)

    def scalar(self, alias: str, expression: str) -> tuple[str, str]:
        """A value computed from one staging row at level 1 (from `source`); returns its level-2
        and level-3 references."""
        self.level1.append(f"{expression} AS {alias}")
        self.level2.append(f"l1.{alias}")
        return f"l1.{alias}", f"l2.{alias}"

    def typed(self, alias: str, expression: str) -> str:
        self.level2.append(f"{expression} AS {alias}")
        return f"l2.{alias}"

    def text(self, name: str) -> str:
        """A field's trimmed text, for level-3 expressions (rules and output)."""
        self.raw(name)
        return f"l2.r_{name}" if name in self.plan.columns else "CAST(NULL AS text)"

    def dates(self, name: str, tz: str | None) -> str:
        """Level-2 expression reading a field as a timestamptz (times without offset in `tz`),
        or as a date when `tz` is None; NULL when no format of the plan fits."""
        options = []
        for i, fmt in enumerate(self.plan.date_formats):
            if fmt.kind != "pattern":
                options.append(sliced_date(self.raw(name), fmt, self.p, tz))
                continue
            v = trimmed(self.plan.columns[name].ref)
            self.level1.append(f"regexp_match({v}, {self.p(fmt.regex)}) AS dm{i}")
            self.level2.append(f"l1.dm{i}")
            if tz is None:
                options.append(matched_date(f"l1.dm{i}", fmt))
            else:
                options.append(matched_timestamp(f"l1.dm{i}", fmt, tz))
        return first_valid(options)

    def date_label(self) -> str:
        return " or ".join(fmt.label for fmt in self.plan.date_formats)

    def refuse(self, condition: str, name: str, value: str, reason: str) -> None:
        """A row where `condition` holds is a problem: `value` of `name`'s column, `reason`."""
        self.checks.append(Check(condition, self.column(name), value, reason))

    def skip(self, condition: str, name: str, value: str, reason: str) -> None:
        """A row where `condition` holds is left out by the format (not a problem)."""
        self.skips.append(Check(condition, self.column(name), value, reason))

    def require(self, name: str, value: str) -> None:
        """A row whose `value` (of `name`'s column) is empty is a problem."""
        self.refuse(f"{value} IS NULL", name, "''", "required")

    def limit_length(self, name: str, value: str, limit: int) -> None:
        """A row whose `value` (of `name`'s column) is longer than the database column is a
        problem."""
        self.refuse(f"length({value}) > {limit}", name, value, f"longer than {limit} characters")

    def reject_duplicates(self, name: str, value: str) -> None:
        """Every row after the first with the same text in `name`'s column is a problem (a
        window numbers the file's rows by that text)."""
        raw = self.raw(name)
        self.windows.append(
            f"CASE WHEN {raw} IS NOT NULL THEN min(l1.row_no) OVER "
            f"(PARTITION BY {raw}) END AS first_row"
        )
        self.refuse(
            "l2.first_row < l2.row_no", name, value, f"duplicate {name} (also on an earlier row)"
        )

    def query(self, output: list[str], columns: list[str], joins: str = "") -> ParseQuery:
        """The finished query: `output` columns, then each row's problem and skip arrays."""
        level3 = [
            "l2.row_no",
            *output,
            f"{first_problem(self.checks, self.p)} AS problem",
            f"{first_problem(self.skips, self.p)} AS skip",
        ]
        sql = (
            f"SELECT {', '.join(level3)} FROM ("
            f"SELECT {', '.join(self.level2 + self.windows)} FROM ("
            f"SELECT {', '.join(self.level1)} FROM {self.staging} s OFFSET 0"
            f") l1 OFFSET 0) l2 {joins}"
        )
        return ParseQuery(sql, self.p.values, columns)
