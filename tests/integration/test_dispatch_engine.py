"""Dispatch against a real SMTP server on loopback (aiosmtpd), on SQLite and PostgreSQL.

Time is the injected clock: retries are driven by moving it, never by sleeping.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.clock import FixedClock
from outreach.db import session_scope
from outreach.dispatch import Dispatcher
from outreach.errors import SmtpAuthError
from outreach.models import (
    Attempt,
    Campaign,
    Enrollment,
    Event,
    Message,
    MessageBody,
    Suppression,
)
from tests.factories import T0
from tests.integration.dispatch_kit import (
    Recorder,
    SmtpSink,
    add_approved,
    failing_authenticator,
    make_world,
    message,
    message_ids,
    setup,
    smtp_settings,
    statuses,
)


def dispatcher(db, port: int, clock: FixedClock, **settings) -> Dispatcher:
    return Dispatcher(
        db.engine,
        smtp_settings(db.url, port, **settings),
        clock=clock,
        rng=random.Random(7),
    )


def attempts_of(db, mid: int) -> list[Attempt]:
    with session_scope(db.engine) as s:
        return list(
            s.execute(sa.select(Attempt).where(Attempt.message_id == mid).order_by(Attempt.id))
            .scalars()
            .all()
        )


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


async def test_sends_stored_bytes_exactly_once(db, sink, clock) -> None:
    _, ids = setup(db.engine, 45)
    summary = await dispatcher(db, sink.port, clock, smtp_concurrency=3).run_once()
    assert summary.sent == 45 and summary.failed == summary.retrying == 0
    assert set(statuses(db.engine).values()) == {"sent"}
    by_header = {v: k for k, v in message_ids(db.engine).items()}
    got = Counter(sink.handler.ids())
    assert set(got.values()) == {1} and set(got) == set(by_header)
    for rec in sink.handler.received[:5]:
        m = message(db.engine, by_header[rec.message_id])
        assert rec.content == m.body.raw  # unchanged bytes
        assert rec.rcpt_tos == [m.envelope_to] and rec.mail_from == m.envelope_from
        assert m.smtp_code == 250 and "queued" in (m.smtp_response or "")
        assert m.sent_at == clock.now() and m.attempts == 1 and m.lease_token is None
    tries = attempts_of(db, ids[0])
    assert [(a.number, a.outcome, a.smtp_code) for a in tries] == [(1, "sent", 250)]
    with session_scope(db.engine) as s:
        actions = s.execute(
            sa.select(Event.action).where(Event.entity == "message", Event.entity_id == ids[0])
        ).scalars()
        assert list(actions) == ["claimed", "sent"]


async def test_451_three_times_then_250_delivers_once_after_four_attempts(db, clock) -> None:
    tries: Counter[str] = Counter()

    def rcpt(address: str) -> str | None:
        tries[address] += 1
        return "451 4.3.0 Try again later" if tries[address] <= 3 else None

    with SmtpSink(Recorder(on_rcpt=rcpt)) as sink:
        _, ids = setup(db.engine, 3)
        d = dispatcher(db, sink.port, clock)
        delays = []
        for _round in range(3):
            summary = await d.run_once()
            assert summary.retrying == 3 and summary.sent == 0
            m = message(db.engine, ids[0])
            assert m.status == "retrying" and m.smtp_code == 451
            assert m.next_attempt_at == m.due_at
            delays.append(m.next_attempt_at - clock.now())
            # not due yet: nothing is claimed
            assert (await d.run_once()).retrying == 0
            latest = max(message(db.engine, mid).due_at for mid in ids)
            clock.set(latest + timedelta(seconds=1))
        summary = await d.run_once()
        assert summary.sent == 3
    assert Counter(sink.handler.ids()) == Counter({v: 1 for k, v in message_ids(db.engine).items()})
    m = message(db.engine, ids[0])
    assert m.status == "sent" and m.attempts == 4 and m.first_attempt_at == T0
    rows = attempts_of(db, ids[0])
    assert [a.outcome for a in rows] == ["retrying", "retrying", "retrying", "sent"]
    assert [a.number for a in rows] == [1, 2, 3, 4]
    assert all(a.started_at <= (a.finished_at or a.started_at) for a in rows)
    # about a minute, doubling (with jitter in [0.75, 1])
    for n, delay in enumerate(delays):
        nominal = timedelta(minutes=2**n)
        assert nominal * 0.75 <= delay <= nominal


async def test_550_5_1_1_on_rcpt_fails_and_bounces_the_contact(db, clock) -> None:
    handler = Recorder(on_rcpt=lambda a: f"550 5.1.1 <{a}>: user unknown")
    with SmtpSink(handler) as sink:
        with session_scope(db.engine) as s:
            world = make_world(s)
            (mid,) = add_approved(s, world, 1)
        summary = await dispatcher(db, sink.port, clock).run_once()
    assert summary.failed == 1
    m = message(db.engine, mid)
    assert m.status == "failed" and m.smtp_code == 550
    assert "user unknown" in (m.smtp_response or "") and "5.1.1" in (m.smtp_response or "")
    with session_scope(db.engine) as s:
        sup = s.get(Suppression, m.envelope_to)
        assert sup is not None and sup.reason == "bounce"
        enr = s.execute(
            sa.select(Enrollment).where(Enrollment.contact_id == m.contact_id)
        ).scalar_one()
        assert enr.status == "bounced"
    assert sink.handler.received == []


async def test_550_5_7_1_fails_without_suppressing(db, clock) -> None:
    handler = Recorder(on_data=lambda rcpts: "550 5.7.1 Message rejected by policy")
    with SmtpSink(handler) as sink:
        _, (mid,) = setup(db.engine, 1)
        summary = await dispatcher(db, sink.port, clock).run_once()
    assert summary.failed == 1
    m = message(db.engine, mid)
    assert m.status == "failed" and "5.7.1" in (m.smtp_response or "")
    with session_scope(db.engine) as s:
        assert s.get(Suppression, m.envelope_to) is None
        enr = s.execute(
            sa.select(Enrollment).where(Enrollment.contact_id == m.contact_id)
        ).scalar_one()
        assert enr.status == "active"


async def test_server_down_then_back_delivers_every_message(db, clock) -> None:
    sink = SmtpSink()  # not started: connection refused
    _, _ids = setup(db.engine, 10)
    d = dispatcher(db, sink.port, clock, smtp_concurrency=2)
    summary = await d.run_once()
    assert summary.sent == 0 and 1 <= summary.retrying <= 2
    st = statuses(db.engine)
    assert set(st.values()) <= {"retrying", "approved"}
    charged = [mid for mid, s in st.items() if s == "retrying"]
    untouched = [mid for mid, s in st.items() if s == "approved"]
    for mid in untouched:  # attempts not burned, but held back with the server
        m = message(db.engine, mid)
        assert m.attempts == 0 and m.due_at is not None and m.due_at > clock.now()
    m = message(db.engine, charged[0])
    assert m.attempts == 1 and m.smtp_code is None and m.smtp_response
    # the dispatcher itself backs off
    assert (await d.run_once()).skipped_reasons.get("SMTP server backing off") == 1
    with sink:
        clock.advance(hours=1)
        summary = await d.run_once()
        assert summary.sent == 10
    assert Counter(sink.handler.ids()) == Counter({v: 1 for k, v in message_ids(db.engine).items()})
    assert message(db.engine, charged[0]).attempts == 2
    assert message(db.engine, untouched[0]).attempts == 1


async def test_retry_lifetime_exceeded_fails_with_last_reply(db, clock) -> None:
    handler = Recorder(on_rcpt=lambda a: "452 4.2.2 Mailbox full")
    with SmtpSink(handler) as sink:
        _, (mid,) = setup(db.engine, 1)
        d = dispatcher(db, sink.port, clock, retry_lifetime=3600)
        for _ in range(20):
            await d.run_once()
            m = message(db.engine, mid)
            if m.status != "retrying":
                break
            clock.set(m.due_at + timedelta(seconds=1))
    assert m.status == "failed"
    assert m.smtp_code == 452 and "Mailbox full" in (m.smtp_response or "")
    assert m.attempts >= 5 and clock.now() - T0 >= timedelta(hours=1)
    with session_scope(db.engine) as s:
        reason = s.execute(
            sa.select(Event.reason).where(Event.entity_id == mid, Event.to_state == "failed")
        ).scalar_one()
    assert "gave up" in reason and "Mailbox full" in reason


async def test_message_edited_after_approval_is_not_sent(db, sink, clock) -> None:
    _, (a, b) = setup(db.engine, 2)
    with session_scope(db.engine) as s:
        m = s.get(Message, a)
        s.execute(
            sa.update(MessageBody)
            .where(MessageBody.message_id == a)
            .values(raw=m.body.raw + b"P.S. edited\r\n")
        )
        # even with a hash that matches the new bytes, the approval was for the old ones
        raw2 = m.body.raw + b"x\r\n"
        s.execute(sa.update(MessageBody).where(MessageBody.message_id == b).values(raw=raw2))
        s.execute(
            sa.update(Message)
            .where(Message.id == b)
            .values(content_hash=hashlib.sha256(raw2).hexdigest())
        )
    summary = await dispatcher(db, sink.port, clock).run_once()
    assert summary.stale == 2 and summary.sent == 0
    for mid in (a, b):
        m = message(db.engine, mid)
        assert m.status == "pending_review" and "approved" in (m.stale_reason or "")
        assert m.lease_token is None
    assert sink.handler.received == []


async def test_contact_suppressed_after_approval_is_cancelled(db, sink, clock) -> None:
    _, (a, b) = setup(db.engine, 2)
    with session_scope(db.engine) as s:
        email = s.get(Message, a).envelope_to
        s.add(Suppression(email=email, reason="unsubscribe", created_at=T0))
    summary = await dispatcher(db, sink.port, clock).run_once()
    assert summary.cancelled == 1 and summary.sent == 1
    assert message(db.engine, a).status == "cancelled"
    assert [r.rcpt_tos for r in sink.handler.received] == [[message(db.engine, b).envelope_to]]


async def test_replied_contact_gets_no_follow_up(db, sink, clock) -> None:
    with session_scope(db.engine) as s:
        world = make_world(s)
        (mid,) = add_approved(s, world, 1, step_id=world.follow_up_step_id)
        m = s.get(Message, mid)
        s.execute(
            sa.update(Enrollment)
            .where(Enrollment.contact_id == m.contact_id)
            .values(status="replied")
        )
    summary = await dispatcher(db, sink.port, clock).run_once()
    assert summary.cancelled == 1 and summary.sent == 0
    assert message(db.engine, mid).status == "cancelled"
    assert sink.handler.received == []


async def test_paused_campaign_is_never_claimed(db, sink, clock) -> None:
    _world, _ids = setup(db.engine, 3)
    with session_scope(db.engine) as s:
        s.execute(sa.update(Campaign).values(state="paused"))
    summary = await dispatcher(db, sink.port, clock).run_once()
    assert summary.sent == 0 and set(statuses(db.engine).values()) == {"approved"}
    with session_scope(db.engine) as s:
        claimed = s.execute(sa.select(sa.func.count()).select_from(Attempt)).scalar_one()
    assert claimed == 0 and sink.handler.received == []


async def test_outside_send_window_is_left_approved_until_it_opens(db, sink, clock) -> None:
    # 12:00 UTC is 21:00 in Tokyo: outside 09:00-17:00
    _, ids = setup(db.engine, 2, contact_kw={"timezone": "Asia/Tokyo"})
    d = dispatcher(db, sink.port, clock)
    summary = await d.run_once()
    assert summary.sent == 0 and summary.skipped_reasons["outside send window"] == 2
    m = message(db.engine, ids[0])
    assert m.status == "approved" and m.attempts == 0
    assert m.due_at.isoformat() == "2010-04-21T00:00:00+00:00"  # Wed 09:00 Tokyo
    clock.set(m.due_at)
    assert (await d.run_once()).sent == 2


async def test_daily_limit_holds_the_rest_until_tomorrow(db, sink, clock) -> None:
    with session_scope(db.engine) as s:
        world = make_world(
            s, sending={"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00", "daily_limit": 3}
        )
        ids = add_approved(s, world, 5)
    d = dispatcher(db, sink.port, clock)
    summary = await d.run_once()
    assert summary.sent == 3 and summary.skipped_reasons["daily limit reached"] == 2
    assert (await d.run_once()).sent == 0
    held = [mid for mid, st in statuses(db.engine).items() if st == "approved"]
    assert len(held) == 2
    due = message(db.engine, held[0]).due_at
    assert due.isoformat() == "2010-04-21T07:00:00+00:00"  # Wed 09:00 Geneva (CEST)
    clock.set(due)
    assert (await d.run_once()).sent == 2
    assert len(ids) == 5


async def test_stale_check_runs_when_sent_on_another_day(db, sink, clock) -> None:
    _, (a, b) = setup(db.engine, 2, due=T0 - timedelta(days=1))
    asked = []

    def stale_check(session, msg, today):
        asked.append((msg.id, today))
        return "milestones.eif.days_until would differ" if msg.id == a else None

    d = Dispatcher(
        db.engine, smtp_settings(db.url, sink.port), clock=clock, stale_check=stale_check
    )
    summary = await d.run_once()
    assert summary.stale == 1 and summary.sent == 1
    assert sorted(asked) == [(a, T0.date()), (b, T0.date())]
    m = message(db.engine, a)
    assert m.status == "pending_review" and "would differ" in (m.stale_reason or "")
    assert message(db.engine, b).status == "sent"


async def test_535_stops_with_auth_error_and_leaves_messages_approved(db, clock) -> None:
    sink = SmtpSink(authenticator=failing_authenticator, auth_require_tls=False)
    with sink:
        _, ids = setup(db.engine, 5)
        d = dispatcher(
            db,
            sink.port,
            clock,
            smtp_username="outreach",
            smtp_password="wrong",
            smtp_allow_plain_auth=True,
        )
        with pytest.raises(SmtpAuthError, match="535"):
            await d.run_once()
    assert set(statuses(db.engine).values()) == {"approved"}
    for mid in ids:
        m = message(db.engine, mid)
        assert m.attempts == 0 and m.lease_token is None and m.first_attempt_at is None
    assert sink.handler.received == []


async def test_credentials_never_sent_in_clear_unless_allowed(db, sink, clock) -> None:
    _, ids = setup(db.engine, 1)
    d = dispatcher(db, sink.port, clock, smtp_username="u", smtp_password="p")
    with pytest.raises(SmtpAuthError.__bases__[0], match="unencrypted"):
        await d.run_once()
    assert statuses(db.engine) == {ids[0]: "approved"}


async def test_stop_releases_claimed_unsent_messages(db, clock) -> None:
    d: Dispatcher | None = None
    count = 0

    def on_data(rcpts):
        nonlocal count
        count += 1
        if count == 5 and d is not None:
            d.stop()
        return None

    with SmtpSink(Recorder(on_data=on_data)) as sink:
        setup(db.engine, 100)
        d = dispatcher(db, sink.port, clock, smtp_concurrency=1)
        summary = await d.run_once()
    st = Counter(statuses(db.engine).values())
    assert st["sent"] == len(sink.handler.received) == summary.sent
    assert 5 <= summary.sent < 100
    assert st["approved"] == 100 - summary.sent and st.get("sending", 0) == 0
