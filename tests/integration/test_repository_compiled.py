"""outreach.repository.compiled.FastStatement, how the dispatcher runs its every-round statements:
on the driver's cursor it sends exactly what ``Session.execute`` sends for the same statement
(SQL text and processed values: the same stored bytes), in the session's transaction, and a
driver error comes out as SQLAlchemy's."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event

from outreach.db import HeldSession, Session, is_postgres, session_scope
from outreach.lifecycle import _HELD, _owned_update
from outreach.models import Event
from outreach.repository.attempts import _attempt_update, _mark_insert
from outreach.repository.compiled import FastStatement
from outreach.repository.events import _events_for_messages
from outreach.repository.outbox import release_changes
from outreach.repository.owned_moves import _statement

#: an aware time off UTC, with microseconds: what UTC storage has to convert
AT = datetime(2010, 4, 20, 17, 30, 1, 123456, tzinfo=timezone(timedelta(hours=2)))
RELEASE = tuple(sorted(release_changes().items()))


def _cases(postgres: bool) -> list[tuple[str, FastStatement, dict[str, Any]]]:
    """Every FastStatement of a dispatch round, with parameters as the round passes them."""
    owned = {"w_id": 7, "w_tok": "tok", "w_now": AT, "v_attempt_phase": None, "v_due_at": AT}
    cases = [
        ("mark", _mark_insert(postgres), {"ids": [3, 1, 2], "tok": "t", "started": AT, "now": AT}),
        (
            "finish",
            _attempt_update(("finished_at", "outcome", "smtp_code")),
            {"w_id": 3, "w_tok": "t", "v_finished_at": AT, "v_outcome": "sent", "v_smtp_code": 250},
        ),
        (
            "events",
            _events_for_messages(postgres),
            {
                "ids": [5, 6],
                "at": AT,
                "actor": "me",
                "action": "sent",
                "from_state": "sending",
                "to_state": "sent",
                "reason": None,
                "data": {"k": ["é", 1]},
            },
        ),
    ]
    if postgres:
        moved = {
            "p_id": [1, 2],
            "p_tok": ["a", "b"],
            "p_reason": [None, "why"],
            "p_fin": [True, False],
            "p_v_sent_at": [AT, AT + timedelta(seconds=1)],
            "p_a_finished_at": [AT, None],
            "m_from": "sending",
            "m_to": "sent",
            "m_now": AT,
            "e_actor": "me",
            "e_action": "sent",
            "e_data": {},
        }
        cases.append(("move", _statement(("sent_at",), ("finished_at",), ()), moved))
    else:
        cases.append(("held", _HELD, {"ids": [9, 8]}))
        cases.append(
            ("owned", _owned_update("approved", ("attempt_phase", "due_at"), RELEASE), owned)
        )
    return cases


def _plain(value: Any) -> Any:
    """A parameter value comparable by ``==`` (psycopg's JSON wrapper compares by identity)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    return ("json", value.obj) if type(value).__name__ == "Json" else value


def _sent_by_sqlalchemy(session: Session, fast: FastStatement, params: dict[str, Any]) -> list:
    """What ``Session.execute`` sends to the driver for ``fast``'s statement."""
    sent: list[tuple[str, Any]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        sent.append((statement, parameters))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", capture)
    try:
        session.execute(fast.statement, params)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return sent


def test_sends_what_session_execute_sends(db) -> None:
    with session_scope(db.engine) as session:
        session.connection()  # begun: SQLite's BEGIN is not the statement's
        for name, fast, params in _cases(is_postgres(session)):
            sent = _sent_by_sqlalchemy(session, fast, params)
            sql, values = fast._for(session.connection()).bind(params)
            assert [(s, _plain(p)) for s, p in sent] == [(sql, _plain(values))], name


def test_runs_in_the_session_transaction_and_raises_sqlalchemy_errors(db) -> None:
    events = Event.__table__  # type: ignore[attr-defined]
    insert = FastStatement(
        sa.insert(events)
        .values(
            at=sa.bindparam("at", type_=events.c.at.type),
            actor="me",
            entity="message",
            entity_id=sa.bindparam("eid"),
            action="sent",
            data=sa.bindparam("data", type_=events.c.data.type),
        )
        .returning(events.c.entity_id)
    )
    held = HeldSession(db.engine)
    session = held.session()
    assert insert.execute(session, {"eid": 41, "at": AT, "data": {}}) == [(41,)]
    session.rollback()  # the session's transaction: nothing kept
    assert session.execute(sa.select(sa.func.count()).select_from(events)).scalar_one() == 0
    with pytest.raises(sa.exc.IntegrityError):  # at is NOT NULL
        insert.execute(session, {"eid": 42, "at": None, "data": {}})
    held.drop()
    session = held.session()
    insert.execute(session, {"eid": 43, "at": AT, "data": {"k": 1}})
    session.commit()
    held.drop()
    with session_scope(db.engine) as session:
        stored = session.execute(sa.select(events.c.entity_id, events.c.at, events.c.data)).all()
    assert [tuple(r) for r in stored] == [(43, AT, {"k": 1})]


def test_refuses_an_empty_in_list(sqlite_db) -> None:
    with session_scope(sqlite_db.engine) as session, pytest.raises(ValueError, match="empty IN"):
        _HELD.execute(session, {"ids": []})


def test_refuses_a_column_whose_results_need_converting(db) -> None:
    # rows come back as the driver returns them: a UTC time (or JSON) column would not
    events = Event.__table__  # type: ignore[attr-defined]
    with session_scope(db.engine) as session:
        with pytest.raises(ValueError, match="at needs result processing"):
            FastStatement(sa.select(events.c.id, events.c.at)).execute(session, {})
        assert FastStatement(sa.select(events.c.id)).execute(session, {}) == []
