"""outreach.db.HeldSession, a dispatcher lane's connection: one connection for every
transaction until dropped, and on PostgreSQL statements planned for their parameters."""

from __future__ import annotations

import sqlalchemy as sa

from outreach.db import HeldSession, is_postgres


def _connection_id(session) -> int:  # type: ignore[no-untyped-def]
    if is_postgres(session):
        return int(session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    return id(session.connection().connection.dbapi_connection)


def test_one_connection_until_dropped(db) -> None:
    held = HeldSession(db.engine)
    first = held.session()
    before = _connection_id(first)
    first.commit()
    again = held.session()
    assert again is first and _connection_id(again) == before
    again.commit()
    held.drop()
    fresh = held.session()
    assert fresh is not first
    fresh.commit()
    held.drop()


def test_statements_are_planned_for_their_parameters_on_postgres(db) -> None:
    held = HeldSession(db.engine)
    session = held.session()
    try:
        mode = (
            session.execute(sa.text("SHOW plan_cache_mode")).scalar_one()
            if is_postgres(session)
            else None
        )
        session.commit()
    finally:
        held.drop()
    assert mode == ("force_custom_plan" if db.kind == "postgres" else None)
    with db.engine.connect() as other:  # the setting is that session's only
        if db.kind == "postgres":
            assert other.execute(sa.text("SHOW plan_cache_mode")).scalar_one() == "auto"


def test_autocommit_statements_commit_as_they_end_on_postgres(pg_db) -> None:
    db = pg_db
    with db.engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE held_alone (n integer)"))
    held = HeldSession(db.engine, autocommit=True)
    session = held.session()
    try:
        session.execute(sa.text("INSERT INTO held_alone VALUES (1)"))
        with db.engine.connect() as other:  # before the session's commit
            seen = other.execute(sa.text("SELECT count(*) FROM held_alone")).scalar_one()
        session.commit()
    finally:
        held.drop()
    assert seen == 1
    with db.engine.connect() as conn:  # the pool's connections still open transactions
        conn.execute(sa.text("INSERT INTO held_alone VALUES (2)"))
        conn.rollback()
        assert conn.execute(sa.text("SELECT count(*) FROM held_alone")).scalar_one() == 1
