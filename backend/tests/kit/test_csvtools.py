"""The CSV writer every export uses: fields that could split a record are quoted, and text a
spreadsheet would run as a formula stays text, on every line of a multi-line cell."""

from __future__ import annotations

import csv
import io

import pytest

from spendlens.kit.csvtools import csv_line, neutralise_formula

DANGEROUS_PREFIXES = ["=", "+", "-", "@", "\t", "\r"]


def parsed(line: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(line, newline="")))


class TestCsvLine:
    @pytest.mark.parametrize("value", ["a,b", 'say "hi"', "one\ntwo", "one\rtwo", "one\r\ntwo"])
    def test_a_field_that_could_split_the_record_is_quoted_and_reads_back(self, value):
        line = csv_line([value, "next"])
        assert line.startswith('"')
        assert parsed(line) == [[value, "next"]]

    def test_a_bare_carriage_return_does_not_start_a_new_row(self):
        line = csv_line(["Bob\r=1+2", "x"])
        assert line == '"Bob\r=1+2",x\n'
        assert len(parsed(line)) == 1

    def test_plain_values_numbers_and_none_are_written_as_they_are(self):
        assert csv_line(["plain", 12, None, "3.50"]) == "plain,12,,3.50\n"


class TestNeutraliseFormula:
    @pytest.mark.parametrize("prefix", DANGEROUS_PREFIXES)
    def test_every_dangerous_prefix_is_guarded(self, prefix):
        assert neutralise_formula(prefix + "1+2") == "'" + prefix + "1+2"

    @pytest.mark.parametrize("prefix", DANGEROUS_PREFIXES)
    @pytest.mark.parametrize("line_break", ["\n", "\r", "\r\n"])
    def test_every_dangerous_prefix_after_a_line_break_is_guarded(self, prefix, line_break):
        value = neutralise_formula(f"Bob{line_break}{prefix}1+2")
        assert value == f"Bob{line_break}'{prefix}1+2"

    def test_consecutive_breaks_guard_each_line(self):
        assert neutralise_formula("a\r\r=1") == "a\r'\r'=1"

    @pytest.mark.parametrize("value", ["", "plain", "a-b", "x\ny", "O'Brien", "mail@x.example"])
    def test_harmless_text_is_unchanged(self, value):
        assert neutralise_formula(value) == value
