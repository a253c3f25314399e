"""``outreach backup FILE``: a consistent copy of a SQLite database, safe while the daemon
runs, through SQLite's online backup API.

The whole database is copied in one step under one read transaction, so the copy is the
database as it was at one instant (in WAL mode writers carry on meanwhile); a letter being
sent at that instant is ``sending`` in the copy, and after a restore the lease sweeper settles
it by the usual rules (back to ``approved`` before DATA, ``unknown`` after). The copy is
written next to ``FILE`` under a temporary name, switched to a self-contained rollback
journal, checked (``PRAGMA integrity_check``), flushed to disk and only then renamed to
``FILE``: there is never a half-written backup under that name.

PostgreSQL is refused with one line pointing to the ``pg_dump`` recipe in
docs/operations.md.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from outreach.db import redacted_url, sqlite_path
from outreach.errors import BackupError

#: Where the PostgreSQL recipe is.
PG_RECIPE = "docs/operations.md#backups"


@dataclass(frozen=True)
class BackupResult:
    """The database copied, the backup written, its size, schema revision and integrity."""

    source: Path
    target: Path
    size: int
    revision: str | None
    integrity: str


def backup_database(database_url: str, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the SQLite database of ``database_url`` to ``target`` (see the module docstring).

    Raises :class:`BackupError` (one line, nothing written under ``target``) for a PostgreSQL
    URL, a missing database, an existing ``target`` without ``force``, or a copy that fails its
    integrity check.
    """
    source = _source(database_url)
    target = Path(target)
    if target.exists() and not force:
        raise BackupError(f"{target} exists; --force replaces it")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent}: no such folder")
    partial = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        revision, integrity = _copy(source, partial)
        if integrity != "ok":
            raise BackupError(f"{target}: the copy failed its integrity check: {integrity}")
        _flush(partial)
        os.replace(partial, target)
        _flush(target.parent)
    finally:
        partial.unlink(missing_ok=True)
    return BackupResult(source, target, target.stat().st_size, revision, integrity)


def _source(database_url: str) -> Path:
    path = sqlite_path(database_url)
    if path is None:
        raise BackupError(
            f"outreach backup copies SQLite databases; {redacted_url(database_url)} is not "
            f"one: back PostgreSQL up with pg_dump ({PG_RECIPE})"
        )
    if not path.is_file():
        raise BackupError(f"{path}: no such database")
    return path


def _copy(source: Path, partial: Path) -> tuple[str | None, str]:
    """Copy ``source`` into the new file ``partial`` in one step; (revision, integrity)."""
    partial.unlink(missing_ok=True)
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(partial)
    try:
        src.backup(dst)  # every page in one step: one read transaction, one instant
        dst.execute("PRAGMA journal_mode = DELETE")
        integrity = str(dst.execute("PRAGMA integrity_check").fetchone()[0])
        revision = None
        with contextlib.suppress(sqlite3.OperationalError):  # not an outreach database yet
            row = dst.execute("SELECT version_num FROM alembic_version").fetchone()
            revision = row[0] if row else None
        return revision, integrity
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source}: {exc}") from None
    finally:
        dst.close()
        src.close()


def _flush(path: Path) -> None:
    """Make what was written to ``path`` (a file, or a folder's entries) durable."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
