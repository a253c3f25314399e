"""Minimal rows for tests that need a message without running the planner."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session

from outreach.models import Campaign, Contact, Message, MessageBody, Step
from outreach.repository.bodies import split

T0 = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)


def make_campaign(session: Session, slug: str = "test", **kw: Any) -> Campaign:
    values: dict[str, Any] = {
        "slug": slug,
        "name": f"Campaign {slug}",
        "timezone": "Europe/Geneva",
        "sender_name": "Coalition",
        "sender_email": "outreach@example.org",
        "sending": {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"},
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    campaign = Campaign(**values)
    session.add(campaign)
    session.flush()
    return campaign


def make_step(session: Session, campaign: Campaign, key: str = "appeal", **kw: Any) -> Step:
    values: dict[str, Any] = {
        "campaign_id": campaign.id,
        "key": key,
        "template": "ccm/appeal",
        "when": {"date": "2010-05-10T09:00"},
    }
    values.update(kw)
    step = Step(**values)
    session.add(step)
    session.flush()
    return step


def make_contact(session: Session, email: str | None = None, **kw: Any) -> Contact:
    values: dict[str, Any] = {
        "email": email or f"c-{uuid.uuid4().hex[:8]}@example.org",
        "name": "Test Contact",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    contact = Contact(**values)
    session.add(contact)
    session.flush()
    return contact


def make_message(
    session: Session,
    *,
    campaign: Campaign | None = None,
    step: Step | None = None,
    contact: Contact | None = None,
    status: str = "pending_review",
    **kw: Any,
) -> Message:
    campaign = campaign or make_campaign(session, slug=f"c{uuid.uuid4().hex[:6]}")
    step = step or make_step(session, campaign)
    contact = contact or make_contact(session)
    raw = kw.pop("raw", b"Subject: hi\r\n\r\nhello\r\n")
    values: dict[str, Any] = {
        "campaign_id": campaign.id,
        "step_id": step.id,
        "contact_id": contact.id,
        "message_id": f"<{uuid.uuid4().hex}@example.org>",
        "status": status,
        "subject": "hi",
        "text": "hello",
        "raw": raw,
        "content_hash": hashlib.sha256(raw).hexdigest(),
        "scheduled_for": T0,
        "due_at": T0,
        "envelope_from": "outreach@example.org",
        "envelope_to": contact.email,
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(kw)
    row, body = split(values)
    message = Message(**row, body=MessageBody(**body))
    session.add(message)
    session.flush()
    return message
