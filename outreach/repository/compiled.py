"""Statements compiled once and run on the driver's cursor: the dispatcher's every-round
statements, without SQLAlchemy's per-execution work.

``Session.execute`` spends more Python time per statement than SQLite spends running it
(compiled-cache lookup, parameter construction, bind processing, result wrapping, the
session's connection bookkeeping); the dispatcher runs a few statements per round, hundreds of
rounds a second, on one thread that shares the GIL with the SMTP event loop. A
:class:`FastStatement` wraps a statement built with SQLAlchemy as usual and, on first use with
a dialect, compiles it once: the SQL text, the order of its parameters, the constants it binds
and each parameter's bind processing (the column types' own: UTC times, JSON, arrays). Every
execution then only processes the values and calls the driver's ``execute``/``executemany``.

What runs is what ``Session.execute`` would run: the same SQL, the same processed values (so
the same stored bytes), in the session's transaction on the session's connection —
``session.connection()`` begins it when it has not begun (``BEGIN IMMEDIATE`` on SQLite), and
the caller still commits or rolls back through the session. Rows come back as the driver
returns them (no result processing: for columns whose type has none, such as ids and text);
a driver error is raised as SQLAlchemy's (``IntegrityError``…).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

#: How a parameter's value is found: (name, bound constant or None, is a constant, processor).
_Param = tuple[str, Any, bool, "Callable[[Any], Any] | None"]


@dataclass
class _Compiled:
    """A statement compiled for one dialect."""

    sql: str
    positional: bool
    params: tuple[_Param, ...]
    #: positional only: the expanding ``IN`` parameters (one ``?`` per value, spliced in)
    expanding: frozenset[str]
    #: the SQL by the number of values of each expanding parameter (callers bind at most
    #: ``outbox.ID_CHUNK`` ids at a time: a bounded number of texts)
    _texts: dict[tuple[int, ...], str] = field(default_factory=dict)

    @classmethod
    def of(cls, statement: sa.Executable, dialect: sa.Dialect) -> _Compiled:
        compiled = statement.compile(dialect=dialect)  # type: ignore[attr-defined]
        # rows come back as the driver returns them: refuse a column whose type converts them
        for column in getattr(statement, "exported_columns", ()):
            if column.type.dialect_impl(dialect).result_processor(dialect, None) is not None:
                raise ValueError(f"FastStatement: column {column.key} needs result processing")
        positional = compiled.positiontup is not None
        names = compiled.positiontup if positional else sorted(set(compiled.bind_names.values()))
        expanding = {bind.key for bind in compiled.post_compile_params if bind.expanding}
        if len(expanding) != len(compiled.post_compile_params) or (
            expanding and dialect.paramstyle != "qmark"
        ):
            raise ValueError("FastStatement: expanding IN parameters with ? placeholders only")
        params = []
        for name in names:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            constant = not bind.required and bind.callable is None
            params.append((name, bind.value if constant else None, constant, processor))
        return cls(compiled.string, positional, tuple(params), frozenset(expanding))

    def bind(self, given: Mapping[str, Any]) -> tuple[str, Any]:
        """The SQL text and the driver's parameters for one execution with ``given``."""
        if not self.positional:
            named: dict[str, Any] = {}
            for name, value, constant, process in self.params:
                value = value if constant else given[name]
                named[name] = process(value) if process else value
            return self.sql, named
        values: list[Any] = []
        lengths: list[int] = []
        for name, value, constant, process in self.params:
            value = value if constant else given[name]
            if name not in self.expanding:
                values.append(process(value) if process else value)
                continue
            if not value:
                raise ValueError(f"FastStatement: empty IN list {name!r}")
            values.extend([process(v) for v in value] if process else value)
            lengths.append(len(value))
        return self._text(tuple(lengths)), tuple(values)

    def _text(self, lengths: tuple[int, ...]) -> str:
        """The SQL with each expanding parameter spelled as ``lengths`` placeholders."""
        text = self._texts.get(lengths)
        if text is None:
            text = self.sql
            names = [n for n, *_ in self.params if n in self.expanding]
            for name, n in zip(names, lengths, strict=True):
                text = text.replace(f"__[POSTCOMPILE_{name}]", ", ".join(["?"] * n), 1)
            self._texts[lengths] = text
        return text


class FastStatement:
    """``statement`` compiled once per dialect and run on the cursor of the session's
    connection (see the module's docstring). Build it once (at import, or cached)."""

    def __init__(self, statement: sa.Executable) -> None:
        self.statement = statement
        self._compiled: dict[tuple[str, str], _Compiled] = {}

    def _for(self, connection: sa.Connection) -> _Compiled:
        dialect = connection.dialect
        key = (dialect.name, dialect.driver)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = _Compiled.of(self.statement, dialect)
        return compiled

    def execute(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run the statement once with ``params`` (by bind parameter name); the rows it
        returns (``[]`` for a statement that returns none)."""
        connection = session.connection()
        sql, values = self._for(connection).bind(params)
        return run_on_driver(connection, sql, values)

    def executemany(self, session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
        """Run the statement once per entry of ``rows``, in one ``executemany``."""
        if not rows:
            return
        connection = session.connection()
        compiled = self._for(connection)
        if compiled.expanding:
            raise ValueError("FastStatement: no executemany with an expanding IN")
        bound = [compiled.bind(row)[1] for row in rows]
        run_on_driver(connection, compiled.sql, bound, many=True)


def run_on_driver(
    connection: sa.Connection,
    sql: str,
    values: Any,
    *,
    many: bool = False,
    show_values: bool = True,
) -> list[tuple[Any, ...]]:
    """``sql`` with ``values`` (``many``: a sequence of them, in one ``executemany``) on a new
    cursor of ``connection``'s driver connection, in its transaction; the rows it returns (``[]``
    for none). A driver error is raised as SQLAlchemy's, naming the statement — and its values
    unless ``show_values`` is false (bulk arrays)."""
    dbapi_error = connection.dialect.loaded_dbapi.Error
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, values)
            return []
        cursor.execute(sql, values)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    except dbapi_error as exc:
        shown = values if show_values else None
        raise sa.exc.DBAPIError.instance(sql, shown, exc, dbapi_error) from exc
    finally:
        cursor.close()
