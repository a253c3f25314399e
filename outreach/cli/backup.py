"""`outreach backup FILE`: a consistent copy of the SQLite database, while the daemon runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from outreach.cli.context import app_context
from outreach.cli.output import console


def backup(
    ctx: typer.Context,
    target: Annotated[Path, typer.Argument(metavar="FILE", help="Where to write the copy.")],
    force: Annotated[bool, typer.Option("--force", help="Replace FILE if it exists.")] = False,
) -> None:
    """Copy the SQLite database to FILE through SQLite's online backup API (consistent while
    the daemon runs); for PostgreSQL, use pg_dump (docs/operations.md)."""
    from outreach.operations.backup import backup_database

    result = backup_database(app_context(ctx).settings.database_url, target, force=force)
    console.print(
        f"backed up {result.source} to {result.target} ({result.size:,} bytes, schema "
        f"{result.revision or 'none'}, integrity {result.integrity})",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.command()(backup)
