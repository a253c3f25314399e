"""Test send: the exact stored bytes go to the reviewer's address through the real SMTP
adapter; the message's status, attempts and counts stay as they were; events record it; an
hourly limit per message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from outreach.errors import NotFoundError
from outreach.models import Attempt, Event, Message
from outreach.review import testsend
from outreach.settings import load_settings
from outreach.smtpsink.server import SmtpSink
from tests.factories import make_message

NOW = datetime(2010, 4, 22, 10, 0, tzinfo=UTC)
RAW = (
    b"From: Coalition <outreach@example.org>\r\nTo: Minister <minister@mofa.example.org>\r\n"
    b"Subject: Our letter\r\nMessage-ID: <letter.42@example.org>\r\n\r\nYour Excellency,\r\n"
)


def settings_for(db, smtp: SmtpSink, **kw):
    return load_settings(
        env={},
        database_url=db.url,
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_tls="none",
        **kw,
    )


def test_the_exact_bytes_go_to_the_test_address_and_nothing_else_changes(db) -> None:
    with Session(db.engine) as s:
        m = make_message(s, raw=RAW, status="approved", approved_hash=None)
        s.commit()
        mid, before = m.id, m.model_dump()
    with SmtpSink() as smtp:
        result = testsend.test_send(
            db.engine,
            mid,
            to="reviewer@example.org",
            settings=settings_for(db, smtp),
            now=NOW,
            actor="ana",
        )
        [received] = smtp.received
    assert result.delivered and result.code == 250
    assert received.content == RAW  # byte for byte: headers unchanged
    assert received.rcpt_tos == ("reviewer@example.org",)
    assert received.mail_from == "outreach@example.org"
    with Session(db.engine) as s:
        after = s.get(Message, mid).model_dump()
        assert after == before  # status, attempts, sent_at: untouched
        assert s.exec(select(Attempt)).all() == []
        events = s.exec(select(Event).where(Event.entity_id == mid).order_by(Event.id)).all()
    assert [(e.action, e.actor, e.from_state, e.to_state) for e in events] == [
        ("test_send", "ana", None, None),
        ("test_sent", "ana", None, None),
    ]
    assert events[0].data["to"] == "reviewer@example.org"
    assert events[0].data["sha256"] == before["content_hash"]


def test_a_refusing_server_is_reported_and_recorded(db) -> None:
    with Session(db.engine) as s:
        m = make_message(s, raw=RAW)
        s.commit()
        mid = m.id
    with SmtpSink() as smtp:
        smtp.script_rcpt(lambda rcpt, n: "550 5.1.1 No such user")
        result = testsend.test_send(
            db.engine,
            mid,
            to="nobody@example.org",
            settings=settings_for(db, smtp),
            now=NOW,
            actor="ana",
        )
    assert not result.delivered and result.code == 550
    with Session(db.engine) as s:
        actions = [e.action for e in s.exec(select(Event).where(Event.entity_id == mid))]
        assert s.get(Message, mid).status == "pending_review"
    assert actions == ["test_send", "test_send_failed"]


def test_test_sends_are_limited_per_message_per_hour(db) -> None:
    with Session(db.engine) as s:
        m = make_message(s, raw=RAW)
        other = make_message(s, raw=RAW)
        s.commit()
        mid, other_id = m.id, other.id
    with SmtpSink() as smtp:
        settings = settings_for(db, smtp, test_send_per_hour=2)

        def send(message_id: int, at: datetime):
            return testsend.test_send(
                db.engine,
                message_id,
                to="reviewer@example.org",
                settings=settings,
                now=at,
                actor="ana",
            )

        send(mid, NOW)
        send(mid, NOW + timedelta(minutes=10))
        with pytest.raises(testsend.TestSendRefused, match=r"2 times in the last hour.*11:00"):
            send(mid, NOW + timedelta(minutes=20))
        send(other_id, NOW + timedelta(minutes=20))  # another message has its own budget
        send(mid, NOW + timedelta(minutes=61))  # the first one has left the window
        assert len(smtp.received) == 4


def test_refusals(db) -> None:
    with Session(db.engine) as s:
        m = make_message(s, raw=RAW)
        broken = make_message(s, status="render_error")
        broken.body.raw = broken.content_hash = None
        s.commit()
        mid, broken_id = m.id, broken.id
    settings = load_settings(env={}, database_url=db.url, smtp_tls="none")
    for bad in ("", "two@example.org, three@example.org", "x\r\nRCPT TO:<y@example.org>"):
        with pytest.raises(testsend.TestSendRefused, match="not a single valid email address"):
            testsend.test_send(db.engine, mid, to=bad, settings=settings, now=NOW, actor="ana")
    with pytest.raises(testsend.TestSendRefused, match="no composed bytes"):
        testsend.test_send(
            db.engine, broken_id, to="r@example.org", settings=settings, now=NOW, actor="ana"
        )
    with pytest.raises(NotFoundError):
        testsend.test_send(
            db.engine, 999_999, to="r@example.org", settings=settings, now=NOW, actor="ana"
        )
