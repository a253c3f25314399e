"""The full transition table: every legal move succeeds, every illegal one is refused,
on SQLite and PostgreSQL, and each move writes its event row in the same transaction."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from outreach.errors import ConcurrentUpdate, IllegalTransition
from outreach.lifecycle import transition
from outreach.models import Event, Message
from outreach.states import ALLOWED, MessageStatus
from tests.factories import T0, make_message

PAIRS = [(a, b) for a in MessageStatus for b in MessageStatus]


def test_table_covers_every_state() -> None:
    assert set(ALLOWED) == {None, *MessageStatus}
    for terminal in (MessageStatus.SENT, MessageStatus.REJECTED):
        assert ALLOWED[terminal] == frozenset()
    # a cancelled letter goes back to review only (when the reply that cancelled it is corrected)
    assert ALLOWED[MessageStatus.CANCELLED] == frozenset({MessageStatus.PENDING_REVIEW})
    assert MessageStatus.SENDING not in ALLOWED[MessageStatus.PENDING_REVIEW]
    assert MessageStatus.SENDING not in ALLOWED[MessageStatus.REJECTED]


def test_every_pair(db) -> None:
    """One message per (from, to) pair; legal moves persist with an event, illegal ones raise
    and leave the row and the event log unchanged."""
    with Session(db.engine) as session:
        for origin, target in PAIRS:
            msg = make_message(session, status=origin.value)
            before = session.exec(select(Event).where(Event.entity_id == msg.id)).all()
            if target in ALLOWED[origin]:
                transition(session, msg, target, now=T0, actor="test", reason="table")
                stored = session.exec(select(Message.status).where(Message.id == msg.id)).one()
                assert stored == target.value, (origin, target)
                events = session.exec(
                    select(Event).where(Event.entity == "message", Event.entity_id == msg.id)
                ).all()
                assert len(events) == len(before) + 1
                assert (events[-1].from_state, events[-1].to_state) == (origin.value, target.value)
            else:
                with pytest.raises(
                    IllegalTransition, match=f"from {origin.value} to {target.value}"
                ):
                    transition(session, msg, target, now=T0, actor="test")
                stored = session.exec(select(Message.status).where(Message.id == msg.id)).one()
                assert stored == origin.value
        session.commit()


def test_compare_and_set_refuses_a_stale_copy(db) -> None:
    with Session(db.engine) as session:
        msg = make_message(session, status="approved")
        session.commit()
        mid = msg.id
    copies = []
    for _ in range(2):
        with Session(db.engine) as s:
            copy = s.get(Message, mid)
            s.expunge(copy)
            copies.append(copy)
    ma, mb = copies
    with Session(db.engine) as a, Session(db.engine) as b:
        transition(a, ma, MessageStatus.CANCELLED, now=T0, actor="a")
        a.commit()
        with pytest.raises(ConcurrentUpdate):
            transition(b, mb, MessageStatus.SENDING, now=T0, actor="b")
        b.rollback()


def test_lease_token_guards_dispatcher_updates(db) -> None:
    with Session(db.engine) as session:
        msg = make_message(session, status="sending", lease_token="tok-1")
        with pytest.raises(ConcurrentUpdate, match="lease"):
            transition(session, msg, MessageStatus.SENT, now=T0, actor="d", lease_token="tok-2")
        transition(session, msg, MessageStatus.SENT, now=T0, actor="d", lease_token="tok-1")
        assert msg.status == "sent"


def test_event_rolls_back_with_the_change(db) -> None:
    with Session(db.engine) as session:
        msg = make_message(session, status="approved")
        session.commit()
        mid = msg.id
        transition(session, msg, MessageStatus.CANCELLED, now=T0, actor="x")
        session.rollback()
        assert session.exec(select(Message.status).where(Message.id == mid)).one() == "approved"
        assert session.exec(select(Event).where(Event.entity_id == mid)).all() == []
