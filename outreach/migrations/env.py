"""Alembic environment: migrations run on a connection handed in by :func:`outreach.db.migrate`."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import outreach.models  # noqa: F401  (registers the tables)

target_metadata = SQLModel.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `outreach init` (outreach.db.migrate)")
_run(connection)
