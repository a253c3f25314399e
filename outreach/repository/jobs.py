"""Daemon job bookkeeping: one ``job_run`` row per (job, instance) saying when it last ran and
how it ended, and the PostgreSQL advisory locks that keep one instance of a job across
daemons."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from outreach.db import is_postgres
from outreach.models import JobRun

#: The longest ``detail`` kept for a run.
MAX_DETAIL = 2000
#: The outcomes that count as a job doing its work.
SUCCESSES = frozenset({"ok", "skipped"})


def lock_key(name: str) -> int:
    """A stable 32-bit advisory-lock key for ``name`` (same on every host)."""
    return zlib.crc32(f"outreach:{name}".encode()) - 2**31


@contextlib.contextmanager
def advisory_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Hold a PostgreSQL session advisory lock named ``name`` for the block; yields False (and
    runs nothing it guards) when another process holds it. On SQLite there is one process per
    file by design, so the lock is always granted."""
    if not is_postgres(engine):
        yield True
        return
    with engine.connect() as conn:
        got = conn.execute(sa.select(sa.func.pg_try_advisory_lock(lock_key(name)))).scalar()
        conn.commit()
        try:
            yield bool(got)
        finally:
            if got:
                conn.execute(sa.select(sa.func.pg_advisory_unlock(lock_key(name))))
                conn.commit()


def record_job_run(
    session: Session,
    *,
    job: str,
    instance: str,
    started_at: datetime,
    finished_at: datetime | None,
    outcome: str | None,
    detail: str | None,
) -> None:
    """Upsert ``instance``'s row for ``job`` (``detail`` cut to :data:`MAX_DETAIL`). A finished
    run also sets ``last_duration`` (seconds), and one that ended well (``ok`` or ``skipped``)
    becomes its last success."""
    values: dict[str, object] = {
        "job": job,
        "instance": instance,
        "started_at": started_at,
        "finished_at": finished_at,
        "outcome": outcome,
        "detail": (detail or "")[:MAX_DETAIL] or None,
    }
    if finished_at is not None:
        values["last_duration"] = (finished_at - started_at).total_seconds()
        if outcome in SUCCESSES:
            values["last_success_at"] = finished_at
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = dialect.insert(JobRun).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["job", "instance"],
        set_={k: v for k, v in values.items() if k not in ("job", "instance")},
    )
    session.execute(stmt)


def job_runs(session: Session) -> list[JobRun]:
    """Every job's last run on every instance, by job then instance."""
    return list(session.exec(select(JobRun).order_by(col(JobRun.job), col(JobRun.instance))))
