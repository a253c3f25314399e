"""What reviewers read: the messages waiting for review, one message exactly as it will leave
(headers and parts parsed from its stored bytes, with its history), and what an edit starts
from. Read-only; every query is in :mod:`outreach.repository.review`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from outreach.attachments.listing import AttachmentInfo, attachments_in, describe
from outreach.countdown import zone
from outreach.db import Session
from outreach.errors import NotFoundError
from outreach.fieldcopy import same_named
from outreach.htmltext import html_to_text
from outreach.models import Event, Message
from outreach.repository import review as rows
from outreach.review.approvals import current_approvals
from outreach.review.editfile import EditableContent
from outreach.review.rules import check_editable

#: The headers ``review show`` displays, in this order (those absent are left out).
SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Unsubscribe")


@dataclass(frozen=True)
class ReviewItem:
    """One message waiting for review, as ``review list`` shows it (``--json`` field names)."""

    id: int
    campaign: str
    step: str
    to_email: str
    to_name: str | None
    subject: str
    scheduled_for_utc: str  #: ISO 8601, UTC
    scheduled_for_campaign: str  #: ISO 8601, in the campaign's timezone
    campaign_timezone: str
    scheduled_for_recipient: str  #: ISO 8601, in the recipient's timezone (else the campaign's)
    recipient_timezone: str
    approvals: tuple[str, ...]  #: reviewers who approved the current content, oldest first
    approvals_required: int
    edited: bool
    stale: bool
    stale_reason: str | None
    language: str | None  #: the language the letter was rendered in


@dataclass(frozen=True)
class HistoryEntry:
    """One event-log row about a message."""

    at: datetime
    actor: str
    action: str
    from_state: str | None
    to_state: str | None
    reason: str | None
    data: Mapping[str, Any]


@dataclass(frozen=True)
class ReviewDetail:
    """A message as it will leave, for ``review show``."""

    id: int
    campaign: str
    step: str
    status: str
    to_email: str
    headers: tuple[tuple[str, str], ...]  #: parsed from the stored bytes, in SHOWN_HEADERS order
    text: str  #: the text part as it will be sent
    html_text: str | None  #: the HTML part as readable text (None: no HTML part)
    template: str | None
    language: str | None
    render_context: Mapping[str, Any]  #: the countdown values it was rendered with
    rendered_for: str | None
    scheduled_for_utc: str
    content_hash: str | None
    approved_hash: str | None
    approvals: tuple[str, ...]
    approvals_required: int
    edited: bool
    stale_reason: str | None
    raw_size: int
    history: tuple[HistoryEntry, ...]
    #: what the stored bytes carry besides their text: name, type, size, SHA-256
    attachments: tuple[AttachmentInfo, ...] = ()


@dataclass(frozen=True)
class ShownContent:
    """The headers and parts of a message as they will leave."""

    headers: tuple[tuple[str, str], ...]
    text: str
    html_text: str | None


def _zone(name: str | None) -> ZoneInfo | None:
    """The zone for ``name`` (IANA, or an alias :mod:`outreach.countdown` knows), else None."""
    if not name:
        return None
    try:
        return zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _campaign_filter(session: Session, campaign: str | None) -> int | None:
    return None if campaign is None else rows.campaign_id(session, slug=campaign)


def _parties(row: rows.MessageContext) -> dict[str, Any]:
    """What a review view of a message takes from its campaign, step and contact."""
    return {
        "campaign": row.campaign.slug,
        "step": row.step.key,
        "to_email": row.contact.email,
        "approvals_required": row.campaign.approvals_required,
    }


def review_item(row: rows.MessageContext, approvals: tuple[str, ...]) -> ReviewItem:
    """One message (with its campaign, step and contact) as the review list shows it."""
    message, camp, _, contact = row
    assert message.id is not None
    return same_named(
        ReviewItem,
        message,
        **_parties(row),
        to_name=contact.name,
        **_schedule(message.scheduled_for, camp.timezone, contact.timezone),
        approvals=approvals,
        stale=message.stale_reason is not None,
    )


def _schedule(at: datetime, camp_tz: str, contact_tz: str | None) -> dict[str, Any]:
    """When a letter is due, in UTC, the campaign's timezone and the recipient's (else the
    campaign's), with the two timezones' names."""
    camp_zone = _zone(camp_tz)
    contact_zone = _zone(contact_tz) or camp_zone
    return {
        "scheduled_for_utc": at.isoformat(),
        "scheduled_for_campaign": (at.astimezone(camp_zone) if camp_zone else at).isoformat(),
        "campaign_timezone": camp_tz,
        "scheduled_for_recipient": (
            at.astimezone(contact_zone) if contact_zone else at
        ).isoformat(),
        "recipient_timezone": (contact_tz if _zone(contact_tz) else camp_tz),
    }


def list_pending(
    session: Session,
    *,
    campaign: str | None = None,
    step: str | None = None,
    language: str | None = None,
) -> list[ReviewItem]:
    """Messages waiting for review (``pending_review``; of one campaign, step key and
    language, when given), oldest scheduled first. NotFoundError for an unknown campaign."""
    pending = rows.pending_messages(
        session,
        campaign_id=_campaign_filter(session, campaign),
        step_key=step or None,
        language=language or None,
    )
    approvers = current_approvals(session, message_ids=[r.message.id for r in pending])
    return [review_item(r, approvers.get(r.message.id, ())) for r in pending]


def list_upcoming(session: Session, *, limit: int = 10) -> list[ReviewItem]:
    """The next ``limit`` messages to leave (approved or retrying), by when they are due, with
    their time in the campaign's and the recipient's timezone."""
    upcoming = rows.upcoming_messages(session, limit=limit)
    approvers = current_approvals(session, message_ids=[r.message.id for r in upcoming])
    return [review_item(r, approvers.get(r.message.id, ())) for r in upcoming]


def letter_html(session: Session, message_id: int) -> str | None:
    """The HTML part of message ``message_id`` exactly as it will leave (parsed from its
    stored bytes; the stored HTML when it has none); None when it has no HTML part.
    NotFoundError for a missing id."""
    message = rows.get_message(session, message_id=message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    if message.body.raw is None:
        return message.body.html
    parsed = BytesParser(policy=email_policy.default).parsebytes(message.body.raw)
    assert isinstance(parsed, EmailMessage)
    return _part_content(parsed, "html")


def _part_content(parsed: EmailMessage, kind: str) -> str | None:
    part = parsed.get_body(preferencelist=(kind,))
    if part is None or part.get_content_subtype() != kind:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def shown_content(message: Message) -> ShownContent:
    """The headers (:data:`SHOWN_HEADERS`) and parts of ``message`` parsed from its stored
    bytes; without bytes, its stored text and HTML (and no headers)."""
    if message.body.raw is None:
        html_text = html_to_text(message.body.html) if message.body.html else None
        return ShownContent((), message.body.text, html_text)
    parsed = BytesParser(policy=email_policy.default).parsebytes(message.body.raw)
    assert isinstance(parsed, EmailMessage)
    headers = tuple(
        (name, str(parsed[name])) for name in SHOWN_HEADERS if parsed.get(name) is not None
    )
    text = _part_content(parsed, "plain")
    html = _part_content(parsed, "html")
    return ShownContent(
        headers, text if text is not None else "", html_to_text(html) if html is not None else None
    )


def _history(events: Sequence[Event]) -> tuple[HistoryEntry, ...]:
    return tuple(same_named(HistoryEntry, e, data=dict(e.data or {})) for e in events)


def show(session: Session, message_id: int) -> ReviewDetail:
    """The message as it will leave: headers and parts parsed from its stored bytes, what it
    was rendered from, its approvals and its history. Raises NotFoundError for a missing id."""
    found = rows.message_context(session, message_id=message_id)
    if found is None:
        raise NotFoundError(f"message {message_id} does not exist")
    message = found.message
    shown = shown_content(message)
    return same_named(
        ReviewDetail,
        shown,
        message,
        id=message_id,
        **_parties(found),
        render_context=dict(message.render_context or {}),
        rendered_for=message.rendered_for.isoformat() if message.rendered_for else None,
        scheduled_for_utc=message.scheduled_for.isoformat(),
        approvals=current_approvals(session, message_ids=[message_id]).get(message_id, ()),
        raw_size=len(message.body.raw or b""),
        history=_history(rows.message_events(session, message_id=message_id)),
        attachments=describe(attachments_in(message.body.raw)),
    )


def editable(session: Session, message_id: int) -> EditableContent:
    """The subject, text and HTML a reviewer starts an edit from. Raises NotFoundError for a
    missing id and ReviewError for a message that cannot be edited (not ``pending_review`` or
    ``approved``)."""
    message = rows.get_message(session, message_id=message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    check_editable(message_id, message.status)
    return EditableContent(message.subject, message.body.text, message.body.html)


def pending_ids(
    session: Session, *, campaign: str | None = None, reviewer: str | None = None
) -> list[int]:
    """Ids of the messages waiting for review (oldest scheduled first); with ``reviewer``,
    those this reviewer has not yet approved in their current version."""
    return rows.pending_ids(
        session, campaign_id=_campaign_filter(session, campaign), reviewer=reviewer
    )


def count_pending_by_campaign(
    session: Session,
    *,
    campaign: str | None = None,
    reviewer: str | None = None,
    ids: Sequence[int] | None = None,
) -> dict[str, int]:
    """How many messages :func:`pending_ids` (or the given ``ids``) holds, per campaign slug
    (sorted by slug): what ``review approve --all`` asks confirmation for."""
    if ids is None:
        ids = pending_ids(session, campaign=campaign, reviewer=reviewer)
    return rows.count_by_campaign(session, message_ids=ids)
