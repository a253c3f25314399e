"""Operator actions on the outbound queue (outreach.dispatch.operator_actions): resolving an
``unknown`` message and cancelling messages, all or nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from outreach.db import session_scope
from outreach.dispatch import QueueError, cancel_messages, resolve_unknown
from outreach.models import Message
from tests.integration.dispatch_kit import message, setup


def test_resolve_and_cancel(db, clock) -> None:
    _, ids = setup(db.engine, 4)
    with session_scope(db.engine) as s:
        s.execute(sa.update(Message).where(Message.id.in_(ids[:2])).values(status="unknown"))
    with session_scope(db.engine) as s:
        resolve_unknown(s, ids[0], sent=True, now=clock.now(), actor="op")
        resolve_unknown(s, ids[1], sent=False, now=clock.now(), actor="op")
    assert message(db.engine, ids[0]).status == "sent"
    assert message(db.engine, ids[1]).status == "approved"
    with pytest.raises(QueueError, match="not unknown"), session_scope(db.engine) as s:
        resolve_unknown(s, ids[2], sent=True, now=clock.now(), actor="op")
    with pytest.raises(QueueError) as err, session_scope(db.engine) as s:
        cancel_messages(s, [ids[2], ids[0], 999999], now=clock.now(), actor="op")
    assert f"message {ids[0]} is sent" in err.value.message
    assert "no message 999999" in err.value.message
    assert message(db.engine, ids[2]).status == "approved"  # all or nothing
    with session_scope(db.engine) as s:
        cancel_messages(s, [ids[2], ids[3]], now=clock.now(), actor="op")
    assert message(db.engine, ids[3]).status == "cancelled"
