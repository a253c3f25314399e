"""The letters a reply's effect cancelled, planned again when an operator corrects the reply
(outreach.replies.reclassify with outreach.planner.reinstate), on SQLite and PostgreSQL: only
that reply's, only those nothing else stops, the same row back in review (never a second
letter, never sent without approval), each step an event."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlmodel import Session, select

from outreach.dispatch import cancel_messages
from outreach.models import Campaign, Event, Message, Step
from outreach.operations.suppressions import add_suppression
from outreach.replies.reclassify import Reclassified, reclassify
from outreach.review import AUTO_APPROVE_NOTE
from tests.integration.intake_kit import (
    NOW,
    TEMPLATES_DIR,
    World,
    build_world,
    dsn,
    enrollment,
    inbound_rows,
    reply,
    run,
    settings_for,
    status_of,
)

LATER = NOW + timedelta(hours=2)


def fix(  # type: ignore[no-untyped-def]
    db,
    inbound_id: int,
    new_class: str,
    *,
    now: datetime = LATER,
    templates: Path = TEMPLATES_DIR,
) -> Reclassified:
    return reclassify(
        db.engine,
        inbound_id=inbound_id,
        new_class=new_class,
        reason="checked by hand",
        actor="ana",
        now=now,
        settings=settings_for(db.url, templates_dir=templates),
    )


def message(db, message_id: int) -> Message:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        row = s.get(Message, message_id)
        assert row is not None
        return row


def message_events(db, message_id: int) -> list[Event]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        query = select(Event).where(Event.entity == "message", Event.entity_id == message_id)
        return list(s.exec(query.order_by(Event.id)))


def letter_count(db) -> int:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return len(s.exec(select(Message.id)).all())


def bounced(db, w: World) -> int:  # type: ignore[no-untyped-def]
    """A's conclusive hard bounce: both of A's unsent letters cancelled; its inbound id."""
    run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    assert (status_of(db, w.a_follow), status_of(db, w.a_other)) == ("cancelled", "cancelled")
    return inbound_rows(db)[-1].id


def test_the_same_letter_comes_back_to_review_with_its_history(db) -> None:
    w = build_world(db.engine)
    before = message(db, w.a_follow)
    count = letter_count(db)
    inbound = bounced(db, w)
    [cancel] = [e for e in message_events(db, w.a_follow) if e.to_state == "cancelled"]
    assert cancel.data == {"by": "reply intake", "inbound_id": inbound}

    done = fix(db, inbound, "auto_reply")
    after = message(db, w.a_follow)
    assert (after.status, after.message_id, after.approved_hash) == (
        "pending_review",
        before.message_id,
        None,
    )
    assert after.stale_reason is None and after.body.raw is not None
    assert b"Placeholder for the campaign-file tests." in after.body.raw  # rendered again
    assert after.scheduled_for == after.due_at and after.scheduled_for >= LATER
    assert letter_count(db) == count  # the same rows: nothing planned twice
    assert status_of(db, w.b_follow) == "approved"  # B's letters were never touched
    actions = [(e.action, e.from_state, e.to_state) for e in message_events(db, w.a_follow)]
    assert actions[-2:] == [
        ("reinstated", "cancelled", "pending_review"),
        ("rerendered", "pending_review", "pending_review"),
    ]
    reinstated = message_events(db, w.a_follow)[-2]
    assert reinstated.data == {"undone_inbound_id": inbound} and reinstated.actor == "ana"
    assert reinstated.reason is not None and "reclassified from bounce_hard" in reinstated.reason
    assert {(f.message_id, f.step, f.status) for f in done.letters} == {
        (w.a_follow, "appeal-follow-up", "pending_review"),
        (w.a_other, "invitation", "pending_review"),
    }

    again = fix(db, inbound, "auto_reply")
    assert (again.changed, again.letters) == (False, ())
    assert len(message_events(db, w.a_follow)) == len(actions)


def test_a_campaign_without_review_approves_it_again_at_once(db) -> None:
    w = build_world(db.engine)
    inbound = bounced(db, w)
    with Session(db.engine) as s:
        campaign = s.get(Campaign, w.campaign_id)
        assert campaign is not None
        campaign.require_approval = False
        s.add(campaign)
        s.commit()
    fix(db, inbound, "bounce_soft")
    after = message(db, w.a_follow)
    assert after.status == "approved" and after.approved_hash == after.content_hash
    assert message_events(db, w.a_follow)[-1].reason == AUTO_APPROVE_NOTE
    assert status_of(db, w.a_other) == "pending_review"  # its campaign still needs review


def test_letters_cancelled_otherwise_stay_cancelled(db) -> None:
    w = build_world(db.engine)
    with Session(db.engine) as s:
        cancel_messages(s, [w.a_other], now=NOW, actor="ana", reason="not this year")
        s.commit()
    inbound = bounced(db, w)
    done = fix(db, inbound, "bounce_soft")
    assert [f.message_id for f in done.letters] == [w.a_follow]  # not the operator's
    assert status_of(db, w.a_other) == "cancelled"
    assert status_of(db, w.a_follow) == "pending_review"


def test_a_removed_step_and_a_passed_date_keep_their_letters_cancelled(db) -> None:
    w = build_world(db.engine)
    inbound = bounced(db, w)
    with Session(db.engine) as s:
        follow = s.exec(select(Step).where(Step.key == "appeal-follow-up")).one()
        follow.active = False
        s.add(follow)
        s.commit()
    # the invitation was for 10 May 2010 (09:00 Geneva); the lookahead is 3 days
    done = fix(db, inbound, "bounce_soft", now=datetime.fromisoformat("2010-05-20T12:00+00:00"))
    notes = {f.message_id: (f.status, f.note) for f in done.letters}
    assert notes == {
        w.a_follow: ("cancelled", "its step is no longer in the campaign"),
        w.a_other: (
            "cancelled",
            "its date has passed (due 2010-05-10 07:00 UTC, more than 3 days ago)",
        ),
    }
    assert (status_of(db, w.a_follow), status_of(db, w.a_other)) == ("cancelled", "cancelled")
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"  # the contact is restored


def test_an_operator_suppression_still_in_force_keeps_the_follow_up_cancelled(db) -> None:
    w = build_world(db.engine)
    run(db, reply(w.a_email, in_reply_to=w.a_appeal))
    [human] = inbound_rows(db)
    assert status_of(db, w.a_follow) == "cancelled"
    add_suppression(db.engine, email=w.a_email, reason="asked by phone", actor="bo", now=NOW)
    done = fix(db, human.id, "auto_reply")
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    [fate] = done.letters
    assert (fate.message_id, fate.status) == (w.a_follow, "cancelled")
    assert fate.note == "the address is suppressed (operator, by bo)"
    assert message_events(db, w.a_follow)[-1].action == "cancelled"  # nobody's to undo now


def test_a_later_human_reply_keeps_its_campaign_stopped_and_takes_the_letter_over(db) -> None:
    w = build_world(db.engine)
    bounce = bounced(db, w)
    run(db, reply(w.a_email, in_reply_to=w.a_appeal))  # absorbed: the bounce was stronger
    human = inbound_rows(db)[-1].id
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"

    done = fix(db, bounce, "bounce_soft")
    assert done.in_force == (human,)
    assert enrollment(db, w.campaign_id, w.a_contact) == "replied"
    assert enrollment(db, w.other_campaign_id, w.a_contact) == "active"
    notes = {f.message_id: (f.status, f.note) for f in done.letters}
    assert notes == {
        w.a_follow: ("cancelled", f"the contact's enrollment is replied (reply #{human})"),
        w.a_other: ("pending_review", ""),
    }
    held = message_events(db, w.a_follow)[-1]
    assert (held.action, held.data["inbound_id"], held.data["cancelled_from"]) == (
        "still_cancelled",
        human,
        "approved",
    )

    # the reply was an out-of-office after all: the follow-up it now holds comes back
    freed = fix(db, human, "auto_reply")
    assert [(f.message_id, f.status) for f in freed.letters] == [(w.a_follow, "pending_review")]
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"


def test_a_template_that_no_longer_renders_leaves_it_in_render_error(db, tmp_path: Path) -> None:
    w = build_world(db.engine)
    inbound = bounced(db, w)
    done = fix(db, inbound, "bounce_soft", templates=tmp_path)  # no templates there
    fates = {f.message_id: f for f in done.letters}
    assert fates[w.a_follow].status == "render_error"
    assert "campaign_file/follow_up" in fates[w.a_follow].note
    assert status_of(db, w.a_follow) == "render_error"  # the next plan renders it again
