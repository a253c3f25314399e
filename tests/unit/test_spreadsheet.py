"""CSV cells a spreadsheet would run as a formula are neutralised; everything else is kept as
it is, and the file reads back with the csv module."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest

from outreach.spreadsheet import FORMULA_STARTS, neutralise, write_csv


@pytest.mark.parametrize(
    "text",
    [
        '=HYPERLINK("http://evil.example.org","click")',
        "+41 22 917 12 34",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
        "=",
    ],
)
def test_formula_like_text_gets_an_apostrophe(text: str) -> None:
    assert neutralise(text) == "'" + text


def test_every_dangerous_start_is_covered() -> None:
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (None, ""),
        ("Deputy Prime Minister", "Deputy Prime Minister"),
        ("a=b", "a=b"),  # only the first character counts
        (" =1", " =1"),
        (-3, "-3"),  # numbers stay numbers
        (2.5, "2.5"),
        (True, "true"),
        (date(2010, 8, 1), "2010-08-01"),
        (datetime(2010, 8, 1, 9, 0, tzinfo=UTC), "2010-08-01T09:00:00+00:00"),
        (["not-joined", "affected-state"], "not-joined;affected-state"),
        (["=evil", "x"], "'=evil;x"),
        ({"b": 1, "a": "é"}, '{"a": "é", "b": 1}'),
        ({"=": 1}, '{"=": 1}'),  # JSON starts with a brace
    ],
)
def test_other_values(value: object, cell: str) -> None:
    assert neutralise(value) == cell


def test_write_csv_reads_back_and_counts_rows() -> None:
    out = io.StringIO()
    rows = [["lan@example.org", "=cmd|' /C calc'!A0", 3], ["sok@example.org", "line\nbreak", None]]
    assert write_csv(out, ["email", "@note", "n"], rows) == 2
    back = list(csv.reader(io.StringIO(out.getvalue())))
    assert back == [
        ["email", "'@note", "n"],
        ["lan@example.org", "'=cmd|' /C calc'!A0", "3"],
        ["sok@example.org", "line\nbreak", ""],
    ]
