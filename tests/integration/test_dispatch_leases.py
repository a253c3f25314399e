"""Claims, leases and the sweeper, driven step by step (no SMTP): a lease holder that lost its
lease cannot mark the row; expired leases go back to approved or become unknown by phase."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.db import session_scope
from outreach.dispatch import (
    Outcome,
    claim_due,
    prepare_chunk,
    preview_due,
    record_outcomes,
    sweep_expired,
)
from outreach.models import Attempt, Campaign, Message
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
    with session_scope(db.engine) as s:
        n = s.execute(sa.select(sa.func.count()).select_from(Attempt)).scalar_one()
    assert n == 10


def test_lost_lease_cannot_mark_the_row(db, clock) -> None:
    setup(db.engine, 2)
    batch = claim(db, clock.now())
    before_data, after_data = batch.claims
    with session_scope(db.engine) as s:  # the second one reached DATA
        s.execute(
            sa.update(Message)
            .where(Message.id == after_data.message_id)
            .values(attempt_phase="data_sent")
        )
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
    # and its send-time check drops them too
    with session_scope(db.engine) as s:
        prepared = prepare_chunk(s, batch.claims, now=later, actor="a", lease_seconds=LEASE)
    assert prepared.ready == () and prepared.counts["lost_lease"] == 2


def test_unexpired_leases_are_not_swept(db, clock) -> None:
    setup(db.engine, 3)
    claim(db, clock.now())
    with session_scope(db.engine) as s:
        swept = sweep_expired(s, now=clock.now() + timedelta(seconds=LEASE - 1))
    assert (swept.released, swept.unknown) == (0, 0)
    assert set(statuses(db.engine).values()) == {"sending"}


def test_prepare_marks_data_sent_before_sending_and_extends_the_lease(db, clock) -> None:
    setup(db.engine, 2)
    batch = claim(db, clock.now())
    later = clock.now() + timedelta(seconds=100)
    with session_scope(db.engine) as s:
        prepared = prepare_chunk(s, batch.claims, now=later, actor="a", lease_seconds=LEASE)
    assert len(prepared.ready) == 2
    for r in prepared.ready:
        m = message(db.engine, r.claim.message_id)
        assert m.attempt_phase == "data_sent" and r.raw == m.raw
        assert m.lease_expires_at == later + timedelta(seconds=LEASE)
    # a crash now: the sweeper makes them unknown, never approved
    with session_scope(db.engine) as s:
        swept = sweep_expired(s, now=later + timedelta(seconds=LEASE + 1))
    assert swept.unknown == 2 and set(statuses(db.engine).values()) == {"unknown"}


def test_campaign_paused_after_claim_releases_without_burning_the_attempt(db, clock) -> None:
    setup(db.engine, 2)
    batch = claim(db, clock.now())
    with session_scope(db.engine) as s:
        s.execute(sa.update(Campaign).values(state="paused"))
        prepared = prepare_chunk(s, batch.claims, now=clock.now(), actor="a", lease_seconds=LEASE)
    assert prepared.ready == () and prepared.counts["released"] == 2
    for c in batch.claims:
        m = message(db.engine, c.message_id)
        assert m.status == "approved" and m.attempts == 0 and m.lease_token is None


@pytest.mark.parametrize("limit", [None, 2])
def test_preview_changes_nothing(db, clock, limit) -> None:
    _, ids = setup(db.engine, 3)
    with session_scope(db.engine) as s:
        items, skipped = preview_due(s, now=clock.now(), limit=limit)
    assert [i.id for i in items] == ids[: limit or 3] and skipped == {}
    assert set(statuses(db.engine).values()) == {"approved"}
