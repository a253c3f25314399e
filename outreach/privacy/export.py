"""``outreach contacts export EMAIL``: everything outreach holds about one person, as one JSON
document (GDPR Art. 15) — the contact, enrollments, letters (words, attachments, approvals,
attempts), mail they sent or that concerns them (the raw source included), their suppression
and the audit events about all of it.

A person who was erased is answered with what is left: the keyed hash that keeps them from
being written to again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from outreach.attachments.listing import attachments_in, describe
from outreach.contact_fields import normalise_email
from outreach.contacts import KNOWN_COLUMNS
from outreach.db import Session
from outreach.errors import NotFoundError, PrivacyError
from outreach.models import BODY_COLUMNS, Contact, Event, Inbound, Message
from outreach.privacy.keys import current_check
from outreach.repository import subject_access as rows
from outreach.settings import Settings

#: What an erased person's export says is held.
ERASED_NOTE = (
    "the data was erased; only a keyed hash of the address is kept, so that it is never "
    "written to again"
)


def personal_data(session: Session, *, email: str, settings: Settings) -> dict[str, Any]:
    """Everything held about ``email`` (see the module docstring); NotFoundError when nothing
    is held."""
    try:
        address = normalise_email(email)
    except ValueError as exc:
        raise PrivacyError(f"email: {exc}") from None
    contact = rows.live_contact(session, email=address)
    contact_id = contact.id if contact is not None else None
    letters = rows.letters_of(session, contact_id=contact_id) if contact_id is not None else []
    message_ids = [held.message.id for held in letters if held.message.id is not None]
    mail = rows.mail_about(session, email=address, contact_id=contact_id, message_ids=message_ids)
    suppression = rows.suppression_of(session, email=address)
    if contact is None and not mail and suppression is None:
        if current_check(session, settings).erased([address]):
            return {"email": address, "erased": True, "held": ERASED_NOTE}
        raise NotFoundError(f"nothing is held about {address}")
    enrollments = rows.enrollments_of(session, contact_id=contact_id) if contact_id else []
    events = rows.events_about(
        session,
        entities={
            "message": message_ids,
            "enrollment": [e.id for e in enrollments],
            "inbound": [m.id for m in mail if m.id is not None],
        },
    )
    return {
        "email": address,
        "erased": False,
        "contact": _contact(contact) if contact is not None else None,
        "enrollments": [e._asdict() for e in enrollments],
        "letters": [_letter(session, held) for held in letters],
        "received": [_received(m) for m in mail],
        "suppression": suppression.model_dump() if suppression is not None else None,
        "events": [_event(e) for e in events],
    }


def _contact(contact: Contact) -> dict[str, Any]:
    return contact.model_dump(exclude={"id", "erased_at"})


#: What a letter, an approval, an attempt, a received message and an event export as they are
#: stored (a received message's sender also goes out as ``from``, its raw source as text).
LETTER_COLUMNS = (
    "id",
    "status",
    "message_id",
    "subject",
    "text",
    "html",
    "render_context",
    "scheduled_for",
    "sent_at",
    "smtp_code",
    "smtp_response",
)
APPROVAL_COLUMNS = ("reviewer", "channel", "at", "note")
ATTEMPT_COLUMNS = ("number", "started_at", "outcome", "smtp_code", "smtp_response")
RECEIVED_COLUMNS = ("id", "received_at", "subject", "classification", "snippet", "reduced_at")
EVENT_COLUMNS = (
    "at",
    "actor",
    "entity",
    "entity_id",
    "action",
    "from_state",
    "to_state",
    "reason",
    "data",
)


def _columns(row: object, names: Sequence[str]) -> dict[str, Any]:
    """``row``'s attributes ``names``, by name."""
    return {name: getattr(row, name) for name in names}


def _letter(session: Session, held: rows.HeldLetter) -> dict[str, Any]:
    m: Message = held.message
    assert m.id is not None
    return {
        # the body's columns (text, html) where they stood when they were the message row's
        **{n: getattr(m.body if n in BODY_COLUMNS else m, n) for n in LETTER_COLUMNS},
        "campaign": held.campaign,
        "step": held.step,
        "attachments": [a.__dict__ for a in describe(attachments_in(m.body.raw))],
        # its own one-click unsubscribe link (only the token's hash is kept, never the link)
        "one_click_unsubscribe": m.unsubscribe_token_hash is not None,
        "approvals": [
            _columns(a, APPROVAL_COLUMNS) for a in rows.approvals_of(session, message_ids=[m.id])
        ],
        "attempts": [
            _columns(a, ATTEMPT_COLUMNS) for a in rows.attempts_of(session, message_ids=[m.id])
        ],
    }


def _received(m: Inbound) -> dict[str, Any]:
    return {
        **_columns(m, RECEIVED_COLUMNS),
        "from": m.from_addr,
        "raw": m.raw.decode("utf-8", "replace") if m.raw else None,
    }


def _event(e: Event) -> dict[str, Any]:
    return _columns(e, EVENT_COLUMNS)


def contacts_table(contacts: Sequence[Contact]) -> tuple[list[str], list[list[Any]]]:
    """Contacts as the columns and rows of a contacts CSV (an import reads it back): the known
    columns, then every custom field by name; tags joined with ``;``."""
    custom = sorted({name for c in contacts for name in (c.fields or {})})
    rows = [
        [getattr(c, column) for column in KNOWN_COLUMNS]
        + [(c.fields or {}).get(name) for name in custom]
        for c in contacts
    ]
    return [*KNOWN_COLUMNS, *custom], rows
