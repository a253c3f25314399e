"""The queue listing: messages in any state, as ``queue list`` shows them."""

from __future__ import annotations

from dataclasses import dataclass

from outreach.db import Session
from outreach.fieldcopy import same_named
from outreach.repository import review as rows
from outreach.states import MessageStatus


@dataclass(frozen=True)
class QueueItem:
    """One message in any state, as ``queue list`` shows it (``--json`` field names)."""

    id: int
    campaign: str
    step: str
    to_email: str
    subject: str
    status: str
    scheduled_for: str  #: ISO 8601, UTC
    attempts: int
    next_attempt_at: str | None
    sent_at: str | None
    smtp_code: int | None  #: the last SMTP reply code, if any
    smtp_response: str | None  #: the last SMTP reply text, if any
    #: when dispatch will next try it (ISO 8601, UTC; see :mod:`outreach.dispatch.waits`)
    next_try_at: str | None = None
    #: why it waits until then ("outside the send window (…)", "waiting for review" …)
    waiting_reason: str | None = None


def _queue_item(row: rows.QueueRow) -> QueueItem:
    message = row.message
    assert message.id is not None
    return same_named(
        QueueItem,
        row,
        message,
        campaign=row.campaign_slug,
        step=row.step_key,
        scheduled_for=message.scheduled_for.isoformat(),
        next_attempt_at=message.next_attempt_at.isoformat() if message.next_attempt_at else None,
        sent_at=message.sent_at.isoformat() if message.sent_at else None,
    )


def list_queue(
    session: Session,
    *,
    status: MessageStatus | str | None = None,
    campaign: str | None = None,
    limit: int | None = None,
) -> list[QueueItem]:
    """Messages in any state (or one ``status``), oldest scheduled first, at most ``limit``.
    Raises NotFoundError for an unknown ``campaign``."""
    found = rows.queue_rows(
        session,
        status=None if status is None else MessageStatus(status),
        campaign_id=None if campaign is None else rows.campaign_id(session, slug=campaign),
        limit=limit,
    )
    return [_queue_item(row) for row in found]
