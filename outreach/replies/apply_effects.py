"""Carry out what a batch of stored replies does (:mod:`outreach.replies.effects`).

In the caller's transaction, in this order: suppressions first (the dispatcher's send-time
check reads them), then enrollment outcomes, then cancelling unsent mail. Rows are read with a
few ``IN`` queries (:mod:`outreach.repository.inbound`); every state change goes through
:mod:`outreach.lifecycle` (compare-and-set plus its event row), suppressions through
:mod:`outreach.repository.suppressions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import NamedTuple

from outreach.db import Session
from outreach.lifecycle import set_enrollment_status_many, transition_many
from outreach.models import Enrollment
from outreach.replies.effects import (
    CancelGroup,
    Effects,
    ReplyOutcome,
    SuppressionRequest,
    cancellations,
    decide_effects,
    enrollment_moves,
)
from outreach.replies.match import MatchResult
from outreach.replies.prepare import PreparedReply, clean_text
from outreach.replies.result import ClassificationResult
from outreach.repository.inbound import (
    contact_emails,
    enrollments_of_contacts,
    unsent_letters_of_contacts,
)
from outreach.repository.suppressions import SuppressionEntry, suppress_many
from outreach.states import MessageStatus


class StoredReply(NamedTuple):
    """One reply just stored: its ``inbound`` row id, what was prepared, matched and decided."""

    inbound_id: int
    reply: PreparedReply
    match: MatchResult
    result: ClassificationResult

    def outcome(self) -> ReplyOutcome:
        """The reply as the effects table reads it."""
        return ReplyOutcome(
            inbound_id=self.inbound_id,
            result=self.result,
            contact_id=self.match.contact_id,
            campaign_id=self.match.campaign_id,
            from_addr=self.reply.parsed.from_addr,
        )


class Applied(NamedTuple):
    """What applying effects changed: addresses newly suppressed, enrollments moved, letters
    cancelled."""

    suppressed: tuple[str, ...] = ()
    enrollments: int = 0
    cancelled: int = 0


def apply_effects(
    session: Session, stored: Sequence[StoredReply], *, now: datetime, actor: str
) -> Applied:
    """Apply DESIGN.md rule 4 for ``stored``: suppress, set enrollment outcomes, cancel unsent
    mail, with event rows. Raises :class:`~outreach.errors.ConcurrentUpdate` when a row changed
    meanwhile (the caller's transaction is then rolled back)."""
    return apply_outcomes(session, [reply.outcome() for reply in stored], now=now, actor=actor)


def apply_outcomes(
    session: Session, outcomes: Sequence[ReplyOutcome], *, now: datetime, actor: str
) -> Applied:
    """:func:`apply_effects` for replies already read into :class:`ReplyOutcome` (an
    operator's reclassification applies the new class this way)."""
    effects = decide_effects(outcomes)
    if not effects:
        return Applied()
    contact_ids = effects.contact_ids()
    emails = contact_emails(session, contact_ids=contact_ids)
    enrollments = enrollments_of_contacts(session, contact_ids=contact_ids)
    unsent = unsent_letters_of_contacts(session, contact_ids=contact_ids)

    suppressed = _suppress(session, effects.suppressions, emails, now=now, actor=actor)
    moved = _set_enrollments(session, effects, enrollments, now=now, actor=actor)
    groups = cancellations(effects.cancellations, unsent)
    cancelled = cancel_groups(session, groups, now=now, actor=actor, data={"by": "reply intake"})
    return Applied(tuple(sorted(suppressed)), moved, cancelled)


def cancel_groups(
    session: Session,
    groups: Sequence[CancelGroup],
    *,
    now: datetime,
    actor: str,
    data: dict[str, object] | None = None,
) -> int:
    """Cancel each group's letters still in its status (an event each); how many moved."""
    moved = 0
    for group in groups:
        moved += len(
            transition_many(
                session,
                list(group.message_ids),
                current=group.current,
                to=MessageStatus.CANCELLED,
                now=now,
                actor=actor,
                reason=group.reason,
                data=data,
            )
        )
    return moved


def _suppress(
    session: Session,
    requests: Sequence[SuppressionRequest],
    emails: dict[int, str],
    *,
    now: datetime,
    actor: str,
) -> set[str]:
    """Suppress each request's address (a contact's own address, looked up in ``emails``),
    remembering the inbound message that asked; the addresses newly suppressed."""
    entries = []
    for request in requests:
        if request.contact_id is not None:
            address = emails.get(request.contact_id)
        else:
            address = request.address
        if address:
            detail = clean_text(request.detail, 2000)
            entries.append(
                SuppressionEntry(address, request.reason, detail, request.inbound_id, actor)
            )
    return suppress_many(session, entries, now=now)


def _set_enrollments(
    session: Session,
    effects: Effects,
    enrollments: Sequence[Enrollment],
    *,
    now: datetime,
    actor: str,
) -> int:
    """Move each enrollment a wanted outcome makes stronger, with its event row; how many."""
    by_id = {enr.id: enr for enr in enrollments}
    moves = enrollment_moves(effects.enrollments, enrollments)
    changes = [
        (by_id[eid], target.status, target.inbound_id, target.reason)
        for eid, target in moves.items()
    ]
    set_enrollment_status_many(session, changes, now=now, actor=actor)
    return len(changes)
