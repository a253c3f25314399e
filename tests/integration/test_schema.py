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


def _to_revision(engine: sa.Engine, move, revision: str) -> None:  # type: ignore[no-untyped-def]
    from outreach.db import _alembic_config

    with engine.connect() as conn, conn.begin():
        cfg = _alembic_config()
        cfg.attributes["connection"] = conn
        move(cfg, revision)


def test_message_bodies_move_out_and_back_with_nothing_lost(db) -> None:
    """0007 moves each message's raw, text and html to message_body and back on downgrade;
    the rows that reference a message (its approvals) survive both ways (a table copy on
    SQLite would delete them through their cascades)."""
    from alembic import command
    from sqlmodel import Session

    from outreach.models import Approval, Message
    from tests.factories import T0, make_message

    raw = b"Subject: hi\r\n\r\nDear Minister,\r\n"
    with Session(db.engine) as s:
        m = make_message(s, raw=raw, text="Dear Minister,", html="<p>Dear Minister,</p>")
        s.add(Approval(message_id=m.id, reviewer="alice", content_hash="0" * 64, at=T0))
        s.commit()
        mid = m.id
    _to_revision(db.engine, command.downgrade, "0006")
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text("SELECT raw, text, html FROM message WHERE id = :id"), {"id": mid}
        ).one()
        assert (bytes(row.raw), row.text, row.html) == (
            raw,
            "Dear Minister,",
            "<p>Dear Minister,</p>",
        )
        assert "message_body" not in sa.inspect(conn).get_table_names()
        assert conn.execute(sa.text("SELECT count(*) FROM approval")).scalar_one() == 1
    _to_revision(db.engine, command.upgrade, "head")
    with Session(db.engine) as s:
        again = s.get(Message, mid)
        assert (again.body.raw, again.body.text, again.body.html) == (
            raw,
            "Dear Minister,",
            "<p>Dear Minister,</p>",
        )
        assert len(s.exec(sa.select(Approval)).all()) == 1
    with db.engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("message")}
    assert not columns & {"raw", "text", "html"}
