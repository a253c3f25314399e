"""Operators' changes to the suppression list (outreach.operations.suppressions) on SQLite and
PostgreSQL: list, add (cancels unsent letters), lift (puts enrollments back, sends nothing)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, select

from outreach.errors import SuppressionError
from outreach.models import Event, Suppression
from outreach.operations.suppressions import (
    add_suppression,
    lift_suppression,
    suppression_items,
)
from tests.integration.intake_kit import (
    NOW,
    build_world,
    dsn,
    enrollment,
    run,
    status_of,
    suppressed,
)

LATER = NOW + timedelta(hours=1)


def suppression_events(db) -> list[Event]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return list(s.exec(select(Event).where(Event.entity == "suppression").order_by(Event.id)))


def test_adding_suppresses_and_cancels_unsent_letters(db) -> None:
    w = build_world(db.engine)
    change = add_suppression(
        db.engine,
        email=" Amina.Diallo@Example.NET ",
        reason="asked by phone",
        actor="ana",
        now=LATER,
    )
    assert (change.email, change.changed, change.cancelled) == (w.a_email, True, 2)
    assert status_of(db, w.a_follow) == "cancelled"
    assert status_of(db, w.a_other) == "cancelled"
    assert status_of(db, w.b_follow) == "approved"
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    [item] = suppression_items(db.engine)
    assert (item.email, item.reason, item.detail, item.actor, item.contact_id) == (
        w.a_email,
        "operator",
        "asked by phone",
        "ana",
        w.a_contact,
    )
    [event] = suppression_events(db)
    assert (event.action, event.entity_id, event.actor, event.reason) == (
        "suppressed",
        w.a_contact,
        "ana",
        "asked by phone",
    )
    assert event.data["email"] == w.a_email
    again = add_suppression(db.engine, email=w.a_email, reason="again", actor="ana", now=LATER)
    assert again.changed is False
    assert len(suppression_events(db)) == 1


def test_an_address_that_is_no_contacts_can_be_suppressed(db) -> None:
    build_world(db.engine)
    change = add_suppression(
        db.engine, email="press@example.com", reason="do not contact", actor="ana", now=LATER
    )
    assert change.changed and change.cancelled == 0
    [event] = suppression_events(db)
    assert event.entity_id == 0 and event.data["email"] == "press@example.com"


def test_lifting_a_bounce_puts_the_enrollments_back_and_sends_nothing(db) -> None:
    w = build_world(db.engine)
    run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"
    change = lift_suppression(
        db.engine, email=w.a_email.upper(), reason="the address works again", actor="ana", now=LATER
    )
    assert change.changed
    assert {(r.current.value, r.restore_to.value) for r in change.restored} == {
        ("bounced", "active")
    }
    assert suppressed(db) == {}
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    assert enrollment(db, w.other_campaign_id, w.a_contact) == "active"
    assert status_of(db, w.a_follow) == "cancelled"
    assert status_of(db, w.a_other) == "cancelled"
    [event] = suppression_events(db)
    assert (event.action, event.reason, event.data["reason"]) == (
        "suppression_lifted",
        "the address works again",
        "bounce_hard",
    )
    again = lift_suppression(db.engine, email=w.a_email, reason="again", actor="ana", now=LATER)
    assert again.changed is False and again.notes == ("was not suppressed",)


def test_bad_input_is_refused_and_changes_nothing(db) -> None:
    build_world(db.engine)
    with pytest.raises(SuppressionError, match="email"):
        add_suppression(db.engine, email="not an address", reason="x", actor="ana", now=LATER)
    with pytest.raises(SuppressionError, match="--reason"):
        add_suppression(db.engine, email="a@example.org", reason=" ", actor="ana", now=LATER)
    with pytest.raises(SuppressionError, match="--reason"):
        lift_suppression(db.engine, email="a@example.org", reason="", actor="ana", now=LATER)
    with Session(db.engine) as s:
        assert s.exec(select(Suppression)).all() == []
