"""CSV that a spreadsheet reads as data, never as a formula (pure).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice and Google Sheets as a formula (CSV injection); every such text cell is
written with a leading apostrophe, which spreadsheets show as text and do not evaluate. Numbers
are written as they are (``-3`` stays a number). The one helper every ``--csv`` output uses.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any, TextIO

#: The first characters that make a spreadsheet evaluate a cell.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> str:
    """``value`` as the text of one CSV cell that no spreadsheet evaluates: None is empty,
    numbers and booleans as they are, dates in ISO 8601, lists joined with ``;``, mappings as
    JSON, and any text
    starting with one of :data:`FORMULA_STARTS` prefixed with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        value = ";".join(str(v) for v in value)
    elif isinstance(value, dict):
        value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_csv(stream: TextIO, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Write a header of ``columns`` and every row (cells through :func:`neutralise`) to
    ``stream``; returns the number of rows."""
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow([neutralise(c) for c in columns])
    count = 0
    for row in rows:
        writer.writerow([neutralise(v) for v in row])
        count += 1
    return count
