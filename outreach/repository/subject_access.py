"""Reads for a subject access request (``contacts export EMAIL``): everything held about one
person — the contact row, enrollments, letters with their approvals and attempts, mail they
sent or that concerns them, their suppression and the events about all of it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.models import (
    Approval,
    Attempt,
    Campaign,
    Contact,
    Enrollment,
    Event,
    Inbound,
    Message,
    Step,
    Suppression,
)


class HeldEnrollment(NamedTuple):
    """One of the person's enrollments."""

    id: int
    campaign: str
    status: str
    created_at: datetime
    updated_at: datetime


class HeldLetter(NamedTuple):
    """One letter to the person, with its campaign and step."""

    message: Message
    campaign: str
    step: str


def live_contact(session: Session, *, email: str) -> Contact | None:
    """The contact (not erased) with this address."""
    query = select(Contact).where(Contact.email == email, col(Contact.erased_at).is_(None))
    return session.exec(query).first()


def enrollments_of(session: Session, *, contact_id: int) -> list[HeldEnrollment]:
    """The contact's enrollments, by campaign."""
    query = (
        sa.select(
            Enrollment.id,
            Campaign.slug,
            Enrollment.status,
            Enrollment.created_at,
            Enrollment.updated_at,
        )
        .join(Campaign, col(Campaign.id) == col(Enrollment.campaign_id))
        .where(Enrollment.contact_id == contact_id)
        .order_by(Campaign.slug)
    )
    return [HeldEnrollment(*row) for row in session.execute(query)]


def letters_of(session: Session, *, contact_id: int) -> list[HeldLetter]:
    """Every letter to the contact, oldest scheduled first."""
    query = (
        select(Message, Campaign.slug, Step.key)
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .where(Message.contact_id == contact_id)
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    return [HeldLetter(*row) for row in session.exec(query)]


def approvals_of(session: Session, *, message_ids: Sequence[int]) -> list[Approval]:
    """The approvals of these letters, oldest first."""
    query = select(Approval).where(col(Approval.message_id).in_(list(message_ids)))
    return list(session.exec(query.order_by(col(Approval.at), col(Approval.id))))


def attempts_of(session: Session, *, message_ids: Sequence[int]) -> list[Attempt]:
    """The SMTP attempts of these letters, oldest first."""
    query = select(Attempt).where(col(Attempt.message_id).in_(list(message_ids)))
    return list(session.exec(query.order_by(col(Attempt.started_at), col(Attempt.id))))


def mail_about(
    session: Session, *, email: str, contact_id: int | None, message_ids: Sequence[int]
) -> list[Inbound]:
    """Received mail from this address, matched to the contact or answering (or bouncing)
    one of these letters, oldest first."""
    about = [sa.func.lower(Inbound.from_addr) == email]
    if contact_id is not None:
        about.append(col(Inbound.contact_id) == contact_id)
    if message_ids:
        about.append(col(Inbound.matched_message_id).in_(list(message_ids)))
    query = select(Inbound).where(sa.or_(*about))
    return list(session.exec(query.order_by(col(Inbound.received_at), col(Inbound.id))))


def suppression_of(session: Session, *, email: str) -> Suppression | None:
    """The address's suppression row, if any."""
    return session.exec(select(Suppression).where(Suppression.email == email)).first()


def events_about(session: Session, *, entities: dict[str, Sequence[int]]) -> list[Event]:
    """The events about these rows (entity name → ids), oldest first."""
    about = [
        sa.and_(col(Event.entity) == entity, col(Event.entity_id).in_(list(ids)))
        for entity, ids in entities.items()
        if ids
    ]
    if not about:
        return []
    query = select(Event).where(sa.or_(*about)).order_by(col(Event.at), col(Event.id))
    return list(session.exec(query))
