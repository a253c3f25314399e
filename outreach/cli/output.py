"""What commands print: the two consoles, tables, and stable JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import Progress, ProgressColumn
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def milestone_dates(milestone: Mapping[str, Any]) -> str:
    """A milestone's date, or its first and last day (``2010-11-08 – 2010-11-12``)."""
    end = milestone["end"]
    return str(milestone["date"]) + (f" – {end}" if end else "")


def stderr_progress(*columns: str | ProgressColumn) -> Progress:
    """A progress display on stderr, shown only when stderr is a terminal, gone when done."""
    return Progress(*columns, console=err_console, disable=not sys.stderr.isatty(), transient=True)


def cell(value: object) -> Text:
    """User data as a table cell: never interpreted as Rich markup (None as empty)."""
    return Text("" if value is None else str(value))


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[RenderableType]],
    *,
    title: str | None = None,
    right: Collection[str] = (),
    no_wrap: Collection[str] = (),
) -> Table:
    """A table with ``columns`` (those in ``right`` right-justified, those in ``no_wrap`` kept on
    one line, such as addresses) and one line per row."""
    out = Table(title=title)
    for column in columns:
        out.add_column(
            column, justify="right" if column in right else "left", no_wrap=column in no_wrap
        )
    for row in rows:
        out.add_row(*row)
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    """Stable JSON on stdout: sorted keys, ISO 8601 times, one document."""
    sys.stdout.write(json.dumps(data, default=_json_default, sort_keys=True, indent=2) + "\n")
    sys.stdout.flush()
