"""One-click unsubscribe (RFC 8058): the token in a letter's ``List-Unsubscribe`` link
suppresses exactly the contact that letter went to.

The same effects as an unsubscribe reply (DESIGN.md rule 4): the address is suppressed, the
contact's enrollments become ``unsubscribed`` and its unsent letters are cancelled, each with
its event row. Idempotent: using a link again changes nothing and records nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.db import Session
from outreach.lifecycle import record_event, set_enrollment_status
from outreach.operations.suppressions import cancel_unsent
from outreach.replies.effects import STRENGTH
from outreach.repository.inbound import enrollments_of_contacts
from outreach.repository.suppressions import suppress
from outreach.repository.unsubscribe import UnsubscribeTarget, target_of
from outreach.states import EnrollmentStatus
from outreach.tokens import looks_like_token, token_hash

#: Who the event log says acted.
ACTOR = "recipient via one-click unsubscribe"
REASON = "unsubscribed"


@dataclass(frozen=True)
class Unsubscribed:
    """What one use of a link did (all zero/False when it had been used before)."""

    message_id: int
    newly_suppressed: bool
    enrollments: int
    cancelled: int

    @property
    def changed(self) -> bool:
        return self.newly_suppressed or bool(self.enrollments or self.cancelled)


def token_is_known(session: Session, *, token: str) -> bool:
    """True when ``token`` is the unsubscribe token of some message."""
    return looks_like_token(token) and target_of(session, token_hash=token_hash(token)) is not None


def unsubscribe(session: Session, *, token: str, now: datetime) -> Unsubscribed | None:
    """Unsubscribe the contact of the message whose link carries ``token``; None when the
    token is malformed or belongs to no message."""
    if not looks_like_token(token):
        return None
    target = target_of(session, token_hash=token_hash(token))
    if target is None:
        return None
    detail = f"one-click unsubscribe (List-Unsubscribe-Post) from message {target.message_id}"
    new = suppress(
        session, email=target.email, reason="unsubscribe", detail=detail, now=now, actor=ACTOR
    )
    moved = _enrollments(session, target, now=now)
    cancelled = cancel_unsent(
        session,
        target.contact_id,
        reason=REASON,
        actor=ACTOR,
        now=now,
        data={"by": "one-click unsubscribe"},
    )
    done = Unsubscribed(target.message_id, new, moved, cancelled)
    if done.changed:
        record_event(
            session,
            now=now,
            actor=ACTOR,
            entity="message",
            entity_id=target.message_id,
            action="unsubscribed",
            reason=detail,
            data={"email": target.email, "enrollments": moved, "cancelled": cancelled},
        )
    return done


def _enrollments(session: Session, target: UnsubscribeTarget, *, now: datetime) -> int:
    """Every enrollment of the contact made ``unsubscribed`` (never weakened); how many."""
    moved = 0
    for enrollment in enrollments_of_contacts(session, contact_ids=[target.contact_id]):
        current = EnrollmentStatus(enrollment.status)
        if STRENGTH[current] < STRENGTH[EnrollmentStatus.UNSUBSCRIBED]:
            moved += set_enrollment_status(
                session,
                enrollment,
                EnrollmentStatus.UNSUBSCRIBED,
                now=now,
                actor=ACTOR,
                reason=REASON,
                data={"message_id": target.message_id},
            )
    return moved
