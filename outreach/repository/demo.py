"""The demo's read-only queries: the letters a scripted reply answers, whether anything is due,
and the event log since the last day, with what each event is about."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.models import Contact, Enrollment, Event, Message, Step
from outreach.states import CLAIMABLE, MessageStatus


class SentLetter(NamedTuple):
    """A sent message and the contact it went to."""

    message: Message
    contact: Contact


class EventAbout(NamedTuple):
    """An event row with what it is about: the step key of a message event, the address of
    an enrollment event's contact (None otherwise, or when the row is gone)."""

    event: Event
    step_key: str | None
    contact_email: str | None


def sent_letters(session: Session, *, step_key: str) -> list[SentLetter]:
    """The sent messages of every step named ``step_key``, in the order they were sent."""
    rows = session.exec(
        select(Message, Contact)
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .where(Step.key == step_key, Message.status == MessageStatus.SENT.value)
        .order_by(col(Message.sent_at), col(Message.id))
    ).all()
    return [SentLetter(*row) for row in rows]


def anything_due(session: Session, *, now: datetime) -> bool:
    """True when a claimable message (approved or retrying) is due at ``now``."""
    count = session.execute(
        sa.select(sa.func.count())
        .select_from(Message)
        .where(
            col(Message.status).in_([s.value for s in CLAIMABLE]),
            col(Message.due_at) <= now,
        )
    ).scalar()
    return bool(count)


def events_since(session: Session, *, after_id: int) -> list[EventAbout]:
    """The event rows with an id above ``after_id``, oldest first, with what each is about."""
    rows = session.execute(
        sa.select(Event, Step.key, Contact.email)
        .outerjoin(
            Message, sa.and_(col(Event.entity) == "message", col(Message.id) == Event.entity_id)
        )
        .outerjoin(Step, col(Step.id) == col(Message.step_id))
        .outerjoin(
            Enrollment,
            sa.and_(col(Event.entity) == "enrollment", col(Enrollment.id) == Event.entity_id),
        )
        .outerjoin(Contact, col(Contact.id) == col(Enrollment.contact_id))
        .where(col(Event.id) > after_id)
        .order_by(col(Event.id))
    ).all()
    return [EventAbout(event, step_key, email) for event, step_key, email in rows]
