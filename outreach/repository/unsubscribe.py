"""The message a one-click unsubscribe token belongs to (looked up by the token's hash)."""

from __future__ import annotations

from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col

from outreach.models import Contact, Message


class UnsubscribeTarget(NamedTuple):
    """The message whose link was used and the contact it went to."""

    message_id: int
    contact_id: int
    email: str


def target_of(session: Session, *, token_hash: str) -> UnsubscribeTarget | None:
    """The message whose unsubscribe token hashes to ``token_hash``, with its contact."""
    row = session.execute(
        sa.select(Message.id, Contact.id.label("contact_id"), Contact.email)  # type: ignore[union-attr]
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .where(col(Message.unsubscribe_token_hash) == token_hash)
    ).first()
    return UnsubscribeTarget(row.id, row.contact_id, row.email) if row is not None else None
