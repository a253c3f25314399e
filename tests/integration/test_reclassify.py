"""Correcting a reply's class (outreach.replies.reclassify) on SQLite and PostgreSQL: the old
class's effects undone, the new one's applied, everything recorded as events; plus what the
intake now stores (evidence, review flag, our own letters fed back)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from outreach.errors import NotFoundError, ReclassifyError
from outreach.models import Event, Inbound, Suppression
from outreach.replies.listing import list_replies
from outreach.replies.reclassify import reclassify
from outreach.states import Classification
from tests.integration.intake_kit import (
    NOW,
    build_world,
    dsn,
    enrollment,
    inbound_rows,
    reply,
    run,
    status_of,
    suppressed,
)

LATER = NOW + timedelta(hours=2)


def events(db, entity: str, entity_id: int | None = None) -> list[Event]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        query = select(Event).where(Event.entity == entity)
        if entity_id is not None:
            query = query.where(Event.entity_id == entity_id)
        return list(s.exec(query.order_by(Event.id)))


def fix(db, inbound_id: int, new_class: str, reason: str = "checked the bounce by hand"):  # type: ignore[no-untyped-def]
    return reclassify(
        db.engine, inbound_id=inbound_id, new_class=new_class, reason=reason, actor="ana", now=LATER
    )


def test_a_wrong_hard_bounce_is_undone_and_nothing_is_resent(db) -> None:
    w = build_world(db.engine)
    run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    [row] = inbound_rows(db)
    assert row.classification == "bounce_hard" and row.strength == "conclusive"
    assert suppressed(db) == {w.a_email: "bounce_hard"}
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"
    assert enrollment(db, w.other_campaign_id, w.a_contact) == "bounced"
    assert status_of(db, w.a_follow) == "cancelled"

    done = fix(db, row.id, "bounce_soft", reason="the ministry says the address works")
    assert (done.old_class, done.new_class, done.changed) == ("bounce_hard", "bounce_soft", True)
    assert done.lifted == (w.a_email,)
    assert {(r.current.value, r.restore_to.value) for r in done.restored} == {("bounced", "active")}
    assert suppressed(db) == {}
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    assert enrollment(db, w.other_campaign_id, w.a_contact) == "active"
    assert status_of(db, w.a_follow) == "cancelled"  # a cancelled letter is final
    [stored] = inbound_rows(db)
    assert (stored.classification, stored.needs_review) == ("bounce_soft", False)
    assert stored.evidence is not None and stored.evidence["decided_by"] == "operator ana"
    [changed] = [e for e in events(db, "inbound", row.id) if e.action == "reclassified"]
    assert (changed.from_state, changed.to_state, changed.actor) == (
        "bounce_hard",
        "bounce_soft",
        "ana",
    )
    assert changed.reason == "the ministry says the address works"
    [lifted] = events(db, "suppression")
    assert lifted.action == "suppression_lifted" and lifted.data["email"] == w.a_email
    restores = [e for e in events(db, "enrollment") if e.data.get("undo")]
    assert len(restores) == 2 and all(e.to_state == "active" for e in restores)

    again = fix(db, row.id, "bounce_soft")
    assert again.changed is False
    assert len(events(db, "enrollment")) == len(restores) + 2


def test_a_human_reply_taken_for_an_auto_reply_and_back(db) -> None:
    w = build_world(db.engine)
    run(db, reply(w.a_email, in_reply_to=w.a_appeal))
    [row] = inbound_rows(db)
    assert enrollment(db, w.campaign_id, w.a_contact) == "replied"
    done = fix(db, row.id, "auto_reply")
    assert [r.restore_to.value for r in done.restored] == ["active"]
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    assert status_of(db, w.a_follow) == "cancelled"
    back = fix(db, row.id, "human")
    assert back.applied.enrollments == 1
    assert enrollment(db, w.campaign_id, w.a_contact) == "replied"
    undone_again = fix(db, row.id, "auto_reply")
    assert [r.restore_to.value for r in undone_again.restored] == ["active"]
    assert undone_again.notes == ()


def test_an_inconclusive_bounce_confirmed_as_hard_suppresses(db) -> None:
    w = build_world(db.engine)
    run(
        db,
        dsn(
            w.a_email,
            "5.2.1",
            original_id=w.a_appeal,
            diagnostic="550 5.2.1 The email account that you tried to reach is disabled.",
        ),
    )
    [row] = inbound_rows(db)
    assert (row.classification, row.strength, row.needs_review) == (
        "bounce_soft",
        "inconclusive",
        True,
    )
    assert row.evidence is not None and row.evidence["needs_review"] is True
    with Session(db.engine) as s:
        flagged = list_replies(s, needs_review=True)
    assert [item.id for item in flagged] == [row.id] and flagged[0].strength == "inconclusive"
    assert suppressed(db) == {}

    done = fix(db, row.id, "bounce_hard", reason="the ministry confirms the account was closed")
    assert done.applied.suppressed == (w.a_email,)
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"
    assert status_of(db, w.a_other) == "cancelled"
    with Session(db.engine) as s:
        sup = s.get(Suppression, w.a_email)
        assert sup is not None and (sup.inbound_id, sup.actor) == (row.id, "ana")
        assert list_replies(s, needs_review=True) == []


def test_confirming_the_class_only_clears_the_flag_once(db) -> None:
    w = build_world(db.engine)
    run(
        db,
        dsn(w.a_email, "5.1.1", original_id=w.a_appeal, diagnostic="550 5.5.0 mailbox unavailable"),
    )
    [row] = inbound_rows(db)
    assert row.needs_review
    first = fix(db, row.id, row.classification)
    assert first.changed and first.old_class == first.new_class
    assert not inbound_rows(db)[0].needs_review
    assert [e.action for e in events(db, "inbound", row.id)] == ["received", "reviewed"]
    second = fix(db, row.id, row.classification)
    assert second.changed is False
    assert len(events(db, "inbound", row.id)) == 2


def test_a_later_move_is_left_alone(db) -> None:
    w = build_world(db.engine)
    run(db, reply(w.a_email, in_reply_to=w.a_appeal))
    run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    human, bounce = inbound_rows(db)
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"
    done = fix(db, human.id, "auto_reply")
    assert done.restored == ()
    assert done.notes and "changed since (now bounced)" in done.notes[0]
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"
    assert bounce.classification == "bounce_hard"


def test_an_unmatched_bounce_lifts_the_address_it_named(db) -> None:
    build_world(db.engine)
    run(db, dsn("stranger@example.net", "5.1.1", original_id=None))
    [row] = inbound_rows(db)
    assert suppressed(db) == {"stranger@example.net": "bounce_hard"}
    fix(db, row.id, "bounce_soft")
    assert suppressed(db) == {}
    fix(db, row.id, "bounce_hard")
    assert suppressed(db) == {"stranger@example.net": "bounce_hard"}


def test_refusals_change_nothing(db) -> None:
    w = build_world(db.engine)
    run(db, reply(w.a_email, in_reply_to=w.a_appeal))
    [row] = inbound_rows(db)
    with pytest.raises(NotFoundError, match="no inbound message 999"):
        fix(db, 999, "human")
    for bad in ("bounce", "oversize", ""):
        with pytest.raises(ReclassifyError, match="CLASS"):
            fix(db, row.id, bad)
    with pytest.raises(ReclassifyError, match="--reason"):
        fix(db, row.id, "auto_reply", reason="  ")
    assert inbound_rows(db)[0].classification == "human"
    assert enrollment(db, w.campaign_id, w.a_contact) == "replied"


def test_our_own_letter_fed_back_is_recognised_by_its_message_id(db) -> None:
    w = build_world(db.engine)
    copy = (
        "From: Coalition <outreach@example.org>\r\nTo: amina.diallo@example.net\r\n"
        f"Subject: The appeal\r\nMessage-ID: {w.a_appeal}\r\n\r\nDear Ambassador,\r\n"
    ).encode()
    report = run(db, copy)
    assert report.by_class == {"own_outbound": 1}
    [row] = inbound_rows(db)
    assert (row.classification, row.match_method) == ("own_outbound", "message_id")
    assert row.evidence is not None and row.evidence["decided_by"] == "Message-ID"
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    assert status_of(db, w.a_follow) == "approved"


def test_garbage_is_stored_as_unparseable_without_effects(db) -> None:
    build_world(db.engine)
    report = run(db, bytes(range(256)) * 2)
    assert report.by_class == {"unparseable": 1}
    with Session(db.engine) as s:
        row = s.exec(select(Inbound)).one()
    assert row.classification == Classification.UNPARSEABLE.value
    assert suppressed(db) == {}
