"""Claims, leases and the sweeper, driven step by step (no SMTP): a lease holder that lost its
lease cannot mark or record the row; expired leases go back to approved, or become unknown when
the attempt was marked ``data_sent``."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.db import session_scope
from outreach.dispatch import (
    Outcome,
    claim_due,
    mark_in_flight,
    preview_due,
    record_outcomes,
    sweep_expired,
)
from outreach.models import Attempt, Campaign, Message, Suppression
from tests.integration.dispatch_kit import message, setup, statuses

LEASE = 300


def claim(db, now, owner="a", limit=100):
    with session_scope(db.engine) as s:
        return claim_due(s, now=now, owner=owner, limit=limit, lease_seconds=LEASE)


def test_claim_is_atomic_and_exclusive(db, clock) -> None:
    _, _ids = setup(db.engine, 10)
    first = claim(db, clock.now(), "a", limit=6)
    second = claim(db, clock.now(), "b", limit=100)
    third = claim(db, clock.now(), "c", limit=100)
    got_a = {c.message_id for c in first.claims}
    got_b = {c.message_id for c in second.claims}
    assert len(got_a) == 6 and len(got_b) == 4 and not (got_a & got_b)
    assert third.claims == ()
    m = message(db.engine, first.claims[0].message_id)
    assert m.status == "sending" and m.lease_owner == "a" and m.attempt_phase == "claimed"
    assert m.lease_expires_at == clock.now() + timedelta(seconds=LEASE)
    assert m.lease_token == first.claims[0].lease_token and m.attempts == 1
    assert first.ready[0].raw == m.body.raw and first.ready[0].envelope_to == m.envelope_to
    with session_scope(db.engine) as s:  # attempt rows start when DATA is about to
        n = s.execute(sa.select(sa.func.count()).select_from(Attempt)).scalar_one()
    assert n == 0


def test_lost_lease_cannot_mark_the_row(db, clock) -> None:
    setup(db.engine, 2)
    batch = claim(db, clock.now())
    before_data, after_data = batch.claims
    with session_scope(db.engine) as s:  # the second one reached DATA
        assert mark_in_flight(s, [after_data], now=clock.now()) == {after_data.message_id}
    # the holder pauses past expiry; a sweeper takes the rows back
    later = clock.now() + timedelta(seconds=LEASE + 1)
    with session_scope(db.engine) as s:
        swept = sweep_expired(s, now=later)
    assert (swept.released, swept.unknown) == (1, 1)
    assert message(db.engine, before_data.message_id).status == "approved"
    assert message(db.engine, before_data.message_id).attempts == 0
    assert message(db.engine, after_data.message_id).status == "unknown"
    # someone else claims the released one
    again = claim(db, later, "b")
    assert [c.message_id for c in again.claims] == [before_data.message_id]
    # the old holder wakes up and reports success for both: nothing changes
    outcomes = [Outcome(c, "sent", later, "done", code=250, response="ok") for c in batch.claims]
    with session_scope(db.engine) as s:
        counts = record_outcomes(s, outcomes, now=later, actor="a")
    assert counts["sent"] == 0 and counts["lost_lease"] == 2
    m = message(db.engine, before_data.message_id)
    assert m.status == "sending" and m.lease_owner == "b"
    assert message(db.engine, after_data.message_id).status == "unknown"
    # and it cannot mark them for DATA either
    with session_scope(db.engine) as s:
        assert mark_in_flight(s, batch.claims, now=later) == set()


def test_a_row_marked_by_an_earlier_version_is_swept_to_unknown(db, clock) -> None:
    setup(db.engine, 1)
    (held,) = claim(db, clock.now()).claims
    with session_scope(db.engine) as s:  # versions before 0.2 marked the message row itself
        s.execute(
            sa.update(Message)
            .where(Message.id == held.message_id)
            .values(attempt_phase="data_sent")
        )
    with session_scope(db.engine) as s:
        swept = sweep_expired(s, now=clock.now() + timedelta(seconds=LEASE + 1))
    assert (swept.released, swept.unknown) == (0, 1)


def test_unexpired_leases_are_not_swept(db, clock) -> None:
    setup(db.engine, 3)
    claim(db, clock.now())
    with session_scope(db.engine) as s:
        swept = sweep_expired(s, now=clock.now() + timedelta(seconds=LEASE - 1))
    assert (swept.released, swept.unknown) == (0, 0)
    assert set(statuses(db.engine).values()) == {"sending"}


def test_mark_records_data_sent_before_sending_only_under_a_live_lease(db, clock) -> None:
    setup(db.engine, 3)
    first, second, third = claim(db, clock.now()).claims
    later = clock.now() + timedelta(seconds=100)
    with session_scope(db.engine) as s:
        marked = mark_in_flight(s, [first, second], now=later)
    assert marked == {first.message_id, second.message_id}
    with session_scope(db.engine) as s:
        rows = s.execute(sa.select(Attempt).order_by(Attempt.message_id)).scalars().all()
    assert [(a.message_id, a.number, a.phase, a.finished_at) for a in rows] == [
        (first.message_id, 1, "data_sent", None),
        (second.message_id, 1, "data_sent", None),
    ]
    assert rows[0].lease_token == first.lease_token and rows[0].started_at == clock.now()
    # a lease that ran out is not marked: its DATA must not start
    with session_scope(db.engine) as s:
        assert mark_in_flight(s, [third], now=clock.now() + timedelta(seconds=LEASE)) == set()
    # a crash now: the marked ones become unknown, never approved; the other goes back
    with session_scope(db.engine) as s:
        swept = sweep_expired(s, now=later + timedelta(seconds=LEASE + 1))
    assert (swept.unknown, swept.released) == (2, 1)
    st = statuses(db.engine)
    assert (st[first.message_id], st[second.message_id], st[third.message_id]) == (
        "unknown",
        "unknown",
        "approved",
    )
    with session_scope(db.engine) as s:
        finished = s.execute(sa.select(Attempt.outcome, Attempt.finished_at)).all()
    assert {(o, f) for o, f in finished} == {("expired", later + timedelta(seconds=LEASE + 1))}


def test_checks_in_the_claim_cancel_or_hold_instead_of_claiming(db, clock) -> None:
    _, (ok, suppressed, edited) = setup(db.engine, 3)
    with session_scope(db.engine) as s:
        email = s.get(Message, suppressed).envelope_to
        s.add(Suppression(email=email, reason="unsubscribe", created_at=clock.now()))
        s.execute(sa.update(Message).where(Message.id == edited).values(approved_hash="0" * 64))
    batch = claim(db, clock.now())
    assert [c.message_id for c in batch.claims] == [ok]
    assert dict(batch.counts) == {"cancelled": 1, "stale": 1}
    st = statuses(db.engine)
    assert (st[ok], st[suppressed], st[edited]) == ("sending", "cancelled", "pending_review")
    m = message(db.engine, edited)
    assert m.attempts == 0 and m.lease_token is None and "approved" in (m.stale_reason or "")


def test_a_paused_campaign_is_not_claimed(db, clock) -> None:
    setup(db.engine, 2)
    with session_scope(db.engine) as s:
        s.execute(sa.update(Campaign).values(state="paused"))
    batch = claim(db, clock.now())
    assert batch.claims == () and set(statuses(db.engine).values()) == {"approved"}


@pytest.mark.parametrize("limit", [None, 2])
def test_preview_changes_nothing(db, clock, limit) -> None:
    _, ids = setup(db.engine, 3)
    with session_scope(db.engine) as s:
        items, skipped = preview_due(s, now=clock.now(), limit=limit)
    assert [i.id for i in items] == ids[: limit or 3] and skipped == {}
    assert set(statuses(db.engine).values()) == {"approved"}
