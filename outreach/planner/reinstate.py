"""Letters a corrected reply had cancelled, planned again.

:func:`replan_cancelled` runs in the caller's transaction (an operator's reclassification).
Each letter is judged by :func:`outreach.planner.uncancel.uncancel` against what is true now —
its step, its contact's tags, enrollment and suppression. A letter planned again takes the one
path back every re-planned letter takes: it moves from ``cancelled`` to ``pending_review``
(action ``reinstated``, its approvals deleted, marked stale so that nobody can approve the old
bytes) and is rendered and composed again at once for the moment it now leaves
(:func:`~outreach.planner.replan.rerender_stale`): back in review — approved again at once
only when its campaign needs no approval, as planning does — or ``render_error``. The row
keeps its id and Message-ID, so it is the same letter, planned once, never a second one.

A letter kept cancelled because another reply's effect still stops it gets an event
``still_cancelled`` naming that reply (``inbound_id``): correcting that reply in turn looks at
the letter again (:func:`outreach.replies.undo.cancelled_by`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.lifecycle import record_event, transition
from outreach.models import Message
from outreach.planner.replan import rerender_stale
from outreach.planner.uncancel import CancelledLetter, Uncancel, uncancel
from outreach.repository import planning as queries
from outreach.repository.campaigns import LoadedCampaign, load_campaign
from outreach.repository.events import enrollment_moves
from outreach.repository.inbound import enrollments_of_contacts
from outreach.repository.suppressions import SuppressionRow, list_suppressions
from outreach.review.approvals import clear_approvals
from outreach.settings import Settings
from outreach.spec import CampaignSpec
from outreach.states import MessageStatus


@dataclass(frozen=True)
class LetterFate:
    """One letter looked at again: its campaign, step and contact, its status now
    (``cancelled`` when it stays so), when it now leaves (``None`` when it stays cancelled),
    and a note (why it stays cancelled, or what failed to render)."""

    message_id: int
    campaign: str
    step: str
    contact: str
    status: str
    scheduled_for: datetime | None
    note: str = ""


def replan_cancelled(
    session: Session,
    cancelled_from: Mapping[int, str | None],
    *,
    cause: str,
    undone_inbound_id: int,
    now: datetime,
    settings: Settings,
    actor: str,
) -> list[LetterFate]:
    """Plan again each cancelled letter of ``cancelled_from`` (message id → the state its
    cancellation moved it from) that :func:`~outreach.planner.uncancel.uncancel` allows, for
    ``cause`` (the events' reason), the effects of inbound message ``undone_inbound_id`` being
    undone; what became of each, by id. Letters no longer cancelled are skipped."""
    messages = [
        m
        for m in queries.messages_by_ids(session, ids=list(cancelled_from))
        if m.status == MessageStatus.CANCELLED.value
    ]
    if not messages:
        return []
    facts = _Facts.load(session, messages)
    judged: list[tuple[Message, Uncancel]] = []
    for m in messages:
        assert m.id is not None
        letter, spec = facts.letter(m, cancelled_from.get(m.id))
        judged.append((m, uncancel(letter, spec, now=now)))
    data = {"undone_inbound_id": undone_inbound_id}
    again = [(m, verdict) for m, verdict in judged if verdict.replanned]
    for m, verdict in again:
        _reinstate(session, m, verdict, cause=cause, data=data, now=now, actor=actor)
    for _, verdict in judged:
        if verdict.held_by is not None and verdict.held_by != undone_inbound_id:
            origin = cancelled_from.get(verdict.message_id)
            _hand_over(session, verdict, origin, cause=cause, data=data, now=now, actor=actor)
    if again:
        ids = [verdict.message_id for _, verdict in again]
        rerender_stale(session, ids, now=now, settings=settings, actor=actor)
    return [facts.fate(m, verdict) for m, verdict in judged]


def _reinstate(
    session: Session,
    m: Message,
    verdict: Uncancel,
    *,
    cause: str,
    data: Mapping[str, Any] | None,
    now: datetime,
    actor: str,
) -> None:
    """``m`` back to review for ``verdict.replan_at``: approvals deleted, marked stale until it
    is rendered again, its retry state cleared (a new life, not a retry)."""
    assert m.id is not None and verdict.replan_at is not None
    cleared = clear_approvals(session, message_id=m.id)
    transition(
        session,
        m,
        MessageStatus.PENDING_REVIEW,
        now=now,
        actor=actor,
        action="reinstated",
        reason=cause,
        data={**(data or {}), **({"cleared_approvals": list(cleared)} if cleared else {})},
        approved_hash=None,
        stale_reason=f"planned again: {cause}"[:2000],
        scheduled_for=verdict.replan_at,
        due_at=verdict.replan_at,
        next_attempt_at=None,
        first_attempt_at=None,
        attempt_phase=None,
    )


def _hand_over(
    session: Session,
    verdict: Uncancel,
    cancelled_from: str | None,
    *,
    cause: str,
    data: Mapping[str, Any],
    now: datetime,
    actor: str,
) -> None:
    """Record that another reply's effect (``verdict.held_by``) keeps the letter cancelled:
    an event naming that reply and the state the letter was first cancelled from, so that
    correcting that reply looks at the letter again."""
    record_event(
        session,
        now=now,
        actor=actor,
        entity="message",
        entity_id=verdict.message_id,
        action="still_cancelled",
        from_state=MessageStatus.CANCELLED.value,
        to_state=MessageStatus.CANCELLED.value,
        reason=f"{cause}; still stopped: {verdict.reason}"[:2000],
        data={**data, "inbound_id": verdict.held_by, "cancelled_from": cancelled_from},
    )


@dataclass
class _Facts:
    """What judging the letters reads: their campaigns, steps, contacts, enrollments and the
    suppressions of their addresses."""

    campaigns: dict[int, LoadedCampaign]
    parties: dict[int, queries.MessageParties]
    enrollments: dict[tuple[int, int], tuple[str, int | None]]
    suppressions: dict[str, SuppressionRow]

    @classmethod
    def load(cls, session: Session, messages: list[Message]) -> _Facts:
        parties = {m.id: queries.message_parties(session, message=m) for m in messages if m.id}
        campaigns: dict[int, LoadedCampaign] = {}
        for p in parties.values():
            if p.campaign.id is not None and p.campaign.id not in campaigns:
                campaigns[p.campaign.id] = load_campaign(session, campaign=p.campaign)
        contact_ids = sorted({m.contact_id for m in messages})
        moved_by = {
            move.enrollment_id: move.data.get("inbound_id")
            for cid in contact_ids
            for move in enrollment_moves(session, contact_id=cid)
            if move.latest
        }
        enrollments = {
            (e.campaign_id, e.contact_id): (e.status, moved_by.get(e.id))
            for e in enrollments_of_contacts(session, contact_ids=contact_ids)
        }
        suppressions = {
            row.email: row
            for email in sorted({p.contact.email for p in parties.values()})
            for row in list_suppressions(session, email=email)
        }
        return cls(campaigns, parties, enrollments, suppressions)

    def letter(
        self, m: Message, cancelled_from: str | None
    ) -> tuple[CancelledLetter, CampaignSpec]:
        """``m`` as :func:`uncancel` reads it, and its campaign as loaded now."""
        assert m.id is not None
        p = self.parties[m.id]
        loaded = self.campaigns[m.campaign_id]
        step = None
        if p.step.active:
            try:
                step = loaded.spec.step(p.step.key)
            except KeyError:
                step = None
        enrollment, enrollment_by = self.enrollments.get(
            (m.campaign_id, m.contact_id), (None, None)
        )
        suppression = self.suppressions.get(p.contact.email)
        letter = CancelledLetter(
            message_id=m.id,
            cancelled_from=cancelled_from,
            sent=m.sent_at is not None,
            scheduled_for=m.scheduled_for,
            step=step,
            contact_tags=tuple(p.contact.tags or ()),
            contact_tz=p.contact.timezone,
            enrollment=enrollment,
            suppressed=_why_suppressed(suppression),
            suppressed_by=suppression.inbound_id if suppression is not None else None,
            enrollment_by=enrollment_by if isinstance(enrollment_by, int) else None,
        )
        return letter, loaded.spec

    def fate(self, m: Message, verdict: Uncancel) -> LetterFate:
        """What became of ``m`` (read after it was planned again, if it was)."""
        assert m.id is not None
        p = self.parties[m.id]
        replanned = verdict.replanned
        note = verdict.reason
        if m.status == MessageStatus.RENDER_ERROR.value:
            note = m.render_error or ""
        return LetterFate(
            message_id=m.id,
            campaign=p.campaign.slug,
            step=p.step.key,
            contact=p.contact.email,
            status=m.status,
            scheduled_for=m.scheduled_for if replanned else None,
            note=note,
        )


def _why_suppressed(row: SuppressionRow | None) -> str | None:
    """A suppression in one short phrase: its reason and what put it there."""
    if row is None:
        return None
    origin = f"reply #{row.inbound_id}" if row.inbound_id is not None else f"by {row.actor}"
    return f"{row.reason}, {origin}" if row.actor or row.inbound_id is not None else row.reason
