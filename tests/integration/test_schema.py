"""Migrations: `init` creates and is then a no-op; the migrated schema equals the models."""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

import outreach.models
from outreach.db import current_revision, head_revision, migrate


def test_init_creates_then_is_a_noop(empty_db) -> None:
    assert current_revision(empty_db.engine) is None
    before, after = migrate(empty_db.engine)
    assert before is None and after == head_revision()
    tables = set(sa.inspect(empty_db.engine).get_table_names())
    assert {"message", "contact", "campaign", "event", "inbound", "suppression"} <= tables
    with empty_db.engine.connect() as conn:
        snapshot = [
            tuple(r) for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))
        ]
    assert migrate(empty_db.engine) == (head_revision(), head_revision())
    with empty_db.engine.connect() as conn:
        again = [tuple(r) for r in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]
    assert snapshot == again


def test_migrated_schema_matches_models(db) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, SQLModel.metadata)
    assert diff == []


def test_sqlite_pragmas(sqlite_db) -> None:
    with sqlite_db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_timestamps_round_trip_aware_utc(db) -> None:
    from datetime import datetime, timedelta, timezone

    from sqlmodel import Session

    from tests.factories import make_contact

    geneva_summer = timezone(timedelta(hours=2))
    with Session(db.engine) as s:
        c = make_contact(s, created_at=datetime(2010, 8, 1, 9, 0, tzinfo=geneva_summer))
        s.commit()
        cid = c.id
    with Session(db.engine) as s:
        got = s.get(outreach.models.Contact, cid)
        assert got.created_at.tzinfo is not None
        assert got.created_at.utcoffset() == timedelta(0)
        assert got.created_at == datetime(2010, 8, 1, 7, 0, tzinfo=UTC)
