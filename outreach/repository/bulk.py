"""Statements over many rows at once, shared by the repository modules: one UPDATE run for
each of many rows, found by id (executemany)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session


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
