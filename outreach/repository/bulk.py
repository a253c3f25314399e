"""Statements over many rows at once, shared by the repository modules: one UPDATE run for
each of many rows, found by id (executemany), and PostgreSQL's insert of many rows as one
array per column (:func:`insert_unnest`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from outreach.repository.compiled import run_on_driver


def update_by_id(
    session: Session, table: sa.Table, params: Sequence[Mapping[str, Any]], **values: Any
) -> None:
    """Set ``values`` on the rows of ``table`` whose ids are the ``w_id`` of each entry of
    ``params``, in one executemany; a bind parameter among the values
    (``sa.bindparam("v_…")``) takes each entry's own value. Nothing when ``params`` is
    empty."""
    if not params:
        return
    session.execute(
        sa.update(table).where(table.c.id == sa.bindparam("w_id")).values(**values),
        list(params),
    )


def insert_unnest(
    session: Session,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    conflict: tuple[str, ...] = (),
    returning: tuple[str, ...] = (),
) -> list[tuple[Any, ...]]:
    """PostgreSQL: insert ``rows`` (column name → value, every row the same columns) in ONE
    statement that reads one array per column, ``INSERT … SELECT … FROM unnest(…) WITH
    ORDINALITY ORDER BY ordinality``, sent in psycopg's binary format: the driver converts each
    column as one array, and the server parses and plans one short statement whatever the
    number of rows — where SQLAlchemy's multi-row ``VALUES`` of thousands of parameters (or a
    statement per row) costs more than the rows themselves. Rows are inserted in their order.

    Values go through the columns' own bind processing (JSON, UTC times); a column missing
    from the rows gets its scalar (or argument-free callable) Python-side default, as
    SQLAlchemy's insert gives it. ``conflict``: ``ON CONFLICT (conflict) DO NOTHING``.
    Returns the ``returning`` columns of each row inserted. A driver error is raised as
    SQLAlchemy's (``IntegrityError``…)."""
    if not rows:
        return []
    connection = session.connection()
    dialect = connection.dialect
    given = tuple(rows[0])
    keys = rows[0].keys()
    if any(row.keys() != keys for row in rows):
        raise ValueError(f"insert_unnest into {table.name}: rows with different columns")
    defaults = _python_defaults(table, given)
    names = given + tuple(defaults)
    sql = _unnest_insert_sql(dialect, table, names, conflict, returning)
    params: dict[str, Any] = {}
    for i, name in enumerate(names):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if name in defaults:
            make = defaults[name]
            values = [make() for _ in rows]
        else:
            values = [row[name] for row in rows]
        params[f"p{i}"] = [process(v) for v in values] if process else values
    return run_on_driver(connection, sql, params, show_values=False)


def _python_defaults(table: sa.Table, given: tuple[str, ...]) -> dict[str, Any]:
    """``{column: () -> value}`` for the columns not in ``given`` that have a Python-side
    default (scalar, or a callable of no argument); server defaults and the autoincrement key
    are left to the database."""
    defaults: dict[str, Any] = {}
    for column in table.columns:
        default = column.default
        if column.name in given or default is None:
            continue
        if default.is_scalar:
            defaults[column.name] = functools.partial(_constant, default.arg)
        elif default.is_callable:  # SQLAlchemy wraps it to take the execution context
            defaults[column.name] = functools.partial(default.arg, None)
        else:
            raise ValueError(f"insert_unnest: column {column.name} has an unsupported default")
    return defaults


def _constant(value: Any) -> Any:
    return value


@functools.lru_cache(maxsize=32)
def _unnest_insert_sql(
    dialect: sa.Dialect,
    table: sa.Table,
    names: tuple[str, ...],
    conflict: tuple[str, ...],
    returning: tuple[str, ...],
) -> str:
    """The statement of :func:`insert_unnest` (built once per table and columns)."""
    quote = dialect.identifier_preparer.quote
    columns = ", ".join(quote(n) for n in names)
    arrays = ", ".join(
        f"%(p{i})b::{table.c[n].type.compile(dialect=dialect)}[]" for i, n in enumerate(names)
    )
    sql = (
        f"INSERT INTO {quote(table.name)} ({columns}) SELECT {columns} FROM unnest({arrays}) "
        f"WITH ORDINALITY AS r({columns}, row_order) ORDER BY row_order"
    )
    if conflict:
        sql += f" ON CONFLICT ({', '.join(quote(n) for n in conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(quote(n) for n in returning)}"
    return sql
