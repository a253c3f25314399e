"""``outreach replies list``: stored inbound mail with the letter it answers (docs/replies.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.fieldcopy import same_named
from outreach.repository.campaigns import get_campaign
from outreach.repository.inbound import InboundListRow, list_inbound
from outreach.states import Classification


@dataclass(frozen=True)
class ReplyItem:
    """One stored inbound message as ``outreach replies list`` shows it (see docs/replies.md).

    ``evidence`` is what decided its class (``decided_by``, ``line``, ``strength``, ``stage``,
    ``status_from``, ``needs_review``; null on rows stored before evidence was recorded);
    ``strength`` and ``needs_review`` repeat the two that matter most.
    """

    id: int
    received_at: datetime
    classification: str
    reason: str | None
    from_addr: str | None
    subject: str | None
    snippet: str | None
    contact: str | None
    contact_name: str | None
    campaign: str | None
    step: str | None
    matched_message_id: str | None
    matched_subject: str | None
    match_method: str | None
    bounce_status: str | None
    message_id: str | None
    error: str | None
    source: str | None
    raw_size: int
    evidence: dict[str, Any] | None
    strength: str | None
    needs_review: bool


def list_replies(
    session: Session,
    *,
    campaign: str | None = None,
    classification: Classification | str | None = None,
    unmatched: bool = False,
    needs_review: bool = False,
    limit: int | None = None,
) -> list[ReplyItem]:
    """Stored inbound mail, newest first, with the contact, campaign, step and letter it
    answers. ``campaign`` must be a loaded campaign's slug (:class:`NotFoundError` otherwise);
    ``unmatched`` lists only mail that matched no letter; ``needs_review`` only mail flagged
    for a person (an inconclusive hard-looking bounce)."""
    campaign_id = get_campaign(session, slug=campaign).id if campaign is not None else None
    kind = Classification(classification).value if classification is not None else None
    rows = list_inbound(
        session,
        campaign_id=campaign_id,
        classification=kind,
        unmatched=unmatched,
        needs_review=needs_review,
        limit=limit,
    )
    return [_item(row) for row in rows]


def _item(row: InboundListRow) -> ReplyItem:
    inbound = row.inbound
    assert inbound.id is not None
    return same_named(
        ReplyItem,
        row,
        inbound,
        contact=row.contact_email,
        campaign=row.campaign_slug,
        step=row.step_key,
        needs_review=bool(inbound.needs_review),
    )
