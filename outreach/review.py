"""Review: reviewers read exactly what will be sent, and approve, reject or edit it.

Every function here takes the ``session`` of one transaction and, when it writes, the moment
``now`` (no clock reads). State changes go through :func:`outreach.lifecycle.transition`, so
each one writes its event row in the same transaction. Batches (``approve``, ``reject``) are
all-or-nothing: every id is checked before anything is written, and the caller's transaction
rolls back on any error.

Concurrency: the messages a batch touches are locked first (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite every transaction is ``BEGIN IMMEDIATE`` and already holds the single
write lock), and approvals are counted after the lock, so two reviewers approving the same
message at the same moment both count.

Approvals count for one content hash only: an :class:`~outreach.models.Approval` row records
the hash the reviewer saw, and an edit deletes the message's approval rows (the event log keeps
who approved what), so an edit — even one that restores earlier content — needs fresh approvals.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.countdown import zone
from outreach.errors import NotFoundError, ReviewError
from outreach.headersafe import check_header_text
from outreach.htmltext import html_to_text
from outreach.lifecycle import transition
from outreach.models import Approval, Campaign, Contact, Event, Message, Step
from outreach.states import MessageStatus

__all__ = [
    "AUTO_APPROVE_NOTE",
    "ApproveResult",
    "EditResult",
    "HistoryEntry",
    "QueueItem",
    "Recompose",
    "RejectResult",
    "ReviewDetail",
    "ReviewItem",
    "approve",
    "approve_all",
    "auto_approve_note",
    "content_ok",
    "count_pending_by_campaign",
    "edit",
    "is_still_approved",
    "list_pending",
    "list_queue",
    "pending_ids",
    "reject",
    "show",
]

#: The event note for messages of a campaign with ``require_approval = false``.
AUTO_APPROVE_NOTE = "auto-approved by the campaign setting require_approval = false"

#: The headers ``review show`` displays, in this order (those absent are left out).
SHOWN_HEADERS = ("From", "To", "Reply-To", "Subject", "Date", "Message-ID", "List-Unsubscribe")

#: ``(session, message, subject, text, html) -> (raw bytes, sha256 hex)``: composes the final
#: bytes of an edited message (the planner's ``recompose_message`` with its settings bound).
Recompose = Callable[[Session, Message, str, str, str | None], tuple[bytes, str]]

_PENDING = MessageStatus.PENDING_REVIEW


# --------------------------------------------------------------------------- values


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


@dataclass(frozen=True)
class ApproveResult:
    """What one approval did: ``approved`` is True when the message reached ``approved``."""

    id: int
    reviewer: str
    approved: bool
    approvals: tuple[str, ...]  #: reviewers counted for the current content, this one included
    approvals_required: int
    content_hash: str


@dataclass(frozen=True)
class RejectResult:
    id: int
    reviewer: str
    reason: str


@dataclass(frozen=True)
class EditResult:
    """What an edit did; ``changed`` is False when the new content equals the old."""

    id: int
    changed: bool
    old_hash: str | None
    new_hash: str | None
    cleared_approvals: tuple[str, ...]
    diff: str


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


# --------------------------------------------------------------------------- pure helpers


def auto_approve_note() -> str:
    """The note the planner writes on messages of a ``require_approval = false`` campaign."""
    return AUTO_APPROVE_NOTE


def content_ok(raw: bytes | None, content_hash: str | None, approved_hash: str | None) -> bool:
    """Rule 1: the stored bytes hash to the stored hash, which is the approved hash. Pure."""
    if raw is None or not content_hash or not approved_hash:
        return False
    return content_hash == approved_hash and hashlib.sha256(raw).hexdigest() == approved_hash


def is_still_approved(message: Message) -> bool:
    """True when ``message`` is ``approved`` and its stored bytes are exactly the approved ones
    (:func:`content_ok`). The dispatcher applies the same check before sending; False means
    "do not send these bytes"."""
    return message.status == MessageStatus.APPROVED.value and content_ok(
        message.raw, message.content_hash, message.approved_hash
    )


def _unified(name: str, old: str | None, new: str | None) -> str:
    a = (old or "").splitlines(keepends=True)
    b = (new or "").splitlines(keepends=True)
    lines = difflib.unified_diff(a, b, fromfile=f"{name} (before)", tofile=f"{name} (after)")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _zone(name: str | None) -> ZoneInfo | None:
    """The zone for ``name`` (IANA, or an alias :mod:`outreach.countdown` knows), else None."""
    if not name:
        return None
    try:
        return zone(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return None


def _check_reviewer(reviewer: str) -> str:
    name = (reviewer or "").strip()
    if not name:
        raise ReviewError("reviewer: a reviewer name is required (--reviewer or OUTREACH_REVIEWER)")
    if len(name) > 200:
        raise ReviewError("reviewer: longer than 200 characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ReviewError("reviewer: contains control characters")
    return name


# --------------------------------------------------------------------------- queries


def _campaign_id(session: Session, slug: str) -> int:
    cid = session.exec(select(Campaign.id).where(Campaign.slug == slug)).first()
    if cid is None:
        raise NotFoundError(f"no campaign {slug!r}")
    return cid


def _approvers(session: Session, ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Distinct reviewers per message who approved its *current* content hash, oldest first."""
    ids = list(ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Approval.message_id, Approval.reviewer)
        .join(Message, col(Message.id) == col(Approval.message_id))
        .where(
            col(Approval.message_id).in_(ids),
            col(Approval.content_hash) == col(Message.content_hash),
        )
        .order_by(col(Approval.at), col(Approval.id))
    ).all()
    out: dict[int, list[str]] = {}
    for mid, reviewer in rows:
        names = out.setdefault(mid, [])
        if reviewer not in names:
            names.append(reviewer)
    return {mid: tuple(names) for mid, names in out.items()}


def list_pending(session: Session, *, campaign: str | None = None) -> list[ReviewItem]:
    """Messages waiting for review (``pending_review``), oldest scheduled first."""
    stmt = (
        select(Message, Campaign, Step, Contact)
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .where(Message.status == _PENDING.value)
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    if campaign is not None:
        stmt = stmt.where(Message.campaign_id == _campaign_id(session, campaign))
    rows = session.exec(stmt).all()
    approvers = _approvers(session, [m.id for m, *_ in rows if m.id is not None])
    items = []
    for message, camp, step, contact in rows:
        assert message.id is not None
        camp_zone = _zone(camp.timezone)
        contact_zone = _zone(contact.timezone) or camp_zone
        at = message.scheduled_for
        items.append(
            ReviewItem(
                id=message.id,
                campaign=camp.slug,
                step=step.key,
                to_email=contact.email,
                to_name=contact.name,
                subject=message.subject,
                scheduled_for_utc=at.isoformat(),
                scheduled_for_campaign=(at.astimezone(camp_zone) if camp_zone else at).isoformat(),
                campaign_timezone=camp.timezone,
                scheduled_for_recipient=(
                    at.astimezone(contact_zone) if contact_zone else at
                ).isoformat(),
                recipient_timezone=(contact.timezone if _zone(contact.timezone) else camp.timezone),
                approvals=approvers.get(message.id, ()),
                approvals_required=camp.approvals_required,
                edited=message.edited,
                stale=message.stale_reason is not None,
                stale_reason=message.stale_reason,
            )
        )
    return items


def _parse_raw(raw: bytes) -> EmailMessage:
    parsed = BytesParser(policy=email_policy.default).parsebytes(raw)
    assert isinstance(parsed, EmailMessage)
    return parsed


def _part_content(parsed: EmailMessage, kind: str) -> str | None:
    part = parsed.get_body(preferencelist=(kind,))
    if part is None or part.get_content_subtype() != kind:
        return None
    content = part.get_content()
    return content if isinstance(content, str) else content.decode("utf-8", "replace")


def show(session: Session, message_id: int) -> ReviewDetail:
    """The message as it will leave: headers and parts parsed from its stored bytes, what it
    was rendered from, its approvals and its history. Raises NotFoundError for a missing id."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    assert message.id is not None
    camp = session.get(Campaign, message.campaign_id)
    step = session.get(Step, message.step_id)
    contact = session.get(Contact, message.contact_id)
    assert camp is not None and step is not None and contact is not None

    headers: list[tuple[str, str]] = []
    text, html_text = message.text, (html_to_text(message.html) if message.html else None)
    if message.raw is not None:
        parsed = _parse_raw(message.raw)
        for name in SHOWN_HEADERS:
            value = parsed.get(name)
            if value is not None:
                headers.append((name, str(value)))
        parsed_text = _part_content(parsed, "plain")
        parsed_html = _part_content(parsed, "html")
        text = parsed_text if parsed_text is not None else ""
        html_text = html_to_text(parsed_html) if parsed_html is not None else None

    events = session.exec(
        select(Event)
        .where(Event.entity == "message", Event.entity_id == message.id)
        .order_by(col(Event.at), col(Event.id))
    ).all()
    history = tuple(
        HistoryEntry(
            at=e.at,
            actor=e.actor,
            action=e.action,
            from_state=e.from_state,
            to_state=e.to_state,
            reason=e.reason,
            data=dict(e.data or {}),
        )
        for e in events
    )
    return ReviewDetail(
        id=message.id,
        campaign=camp.slug,
        step=step.key,
        status=message.status,
        to_email=contact.email,
        headers=tuple(headers),
        text=text,
        html_text=html_text,
        template=message.template,
        language=message.language,
        render_context=dict(message.render_context or {}),
        rendered_for=message.rendered_for.isoformat() if message.rendered_for else None,
        scheduled_for_utc=message.scheduled_for.isoformat(),
        content_hash=message.content_hash,
        approved_hash=message.approved_hash,
        approvals=_approvers(session, [message.id]).get(message.id, ()),
        approvals_required=camp.approvals_required,
        edited=message.edited,
        stale_reason=message.stale_reason,
        raw_size=len(message.raw or b""),
        history=history,
    )


def pending_ids(
    session: Session, *, campaign: str | None = None, reviewer: str | None = None
) -> list[int]:
    """Ids of the messages waiting for review (oldest scheduled first); with ``reviewer``,
    those this reviewer has not yet approved in their current version."""
    stmt = (
        select(Message.id)
        .where(Message.status == _PENDING.value)
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    if campaign is not None:
        stmt = stmt.where(Message.campaign_id == _campaign_id(session, campaign))
    if reviewer is not None:
        already = (
            sa.select(Approval.id)
            .where(
                col(Approval.message_id) == col(Message.id),
                col(Approval.content_hash) == col(Message.content_hash),
                col(Approval.reviewer) == reviewer,
            )
            .exists()
        )
        stmt = stmt.where(~already)
    return [mid for mid in session.exec(stmt).all() if mid is not None]


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
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Campaign.slug, sa.func.count(col(Message.id)))
        .join(Message, col(Message.campaign_id) == col(Campaign.id))
        .where(col(Message.id).in_(list(ids)))
        .group_by(col(Campaign.slug))
        .order_by(col(Campaign.slug))
    ).all()
    return {slug: int(n) for slug, n in rows}


def list_queue(
    session: Session,
    *,
    status: MessageStatus | str | None = None,
    campaign: str | None = None,
    limit: int | None = None,
) -> list[QueueItem]:
    """Messages in any state (or one ``status``), oldest scheduled first, at most ``limit``."""
    stmt = (
        sa.select(Message, Campaign.slug, Step.key, Contact.email)
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    if status is not None:
        stmt = stmt.where(col(Message.status) == MessageStatus(status).value)
    if campaign is not None:
        stmt = stmt.where(col(Message.campaign_id) == _campaign_id(session, campaign))
    if limit is not None:
        stmt = stmt.limit(limit)
    items = []
    for message, slug, step_key, email in session.execute(stmt).all():
        items.append(
            QueueItem(
                id=message.id,
                campaign=slug,
                step=step_key,
                to_email=email,
                subject=message.subject,
                status=message.status,
                scheduled_for=message.scheduled_for.isoformat(),
                attempts=message.attempts,
                next_attempt_at=(
                    message.next_attempt_at.isoformat() if message.next_attempt_at else None
                ),
                sent_at=message.sent_at.isoformat() if message.sent_at else None,
                smtp_code=message.smtp_code,
                smtp_response=message.smtp_response,
            )
        )
    return items


# --------------------------------------------------------------------------- actions


def _lock(session: Session, ids: Sequence[int]) -> dict[int, Message]:
    """Load and lock the messages ``ids`` (in id order, so concurrent batches cannot deadlock),
    refreshing any copy the session already holds."""
    rows = session.exec(
        select(Message)
        .where(col(Message.id).in_(sorted(set(ids))))
        .order_by(col(Message.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {m.id: m for m in rows if m.id is not None}


def _unique(ids: Iterable[int]) -> list[int]:
    seen: dict[int, None] = {}
    for mid in ids:
        seen.setdefault(int(mid), None)
    return list(seen)


def _refuse(problems: list[tuple[type[Exception], str]], verb: str) -> None:
    if problems:
        kind = NotFoundError if any(k is NotFoundError for k, _ in problems) else ReviewError
        raise kind("; ".join(text for _, text in problems) + f"; nothing was {verb}")


def approve(
    session: Session,
    ids: Sequence[int],
    *,
    reviewer: str,
    note: str | None = None,
    now: datetime,
) -> list[ApproveResult]:
    """Approve the messages ``ids`` as ``reviewer``, all or nothing.

    Refuses the whole batch (NotFoundError / ReviewError naming each problem) when an id does
    not exist, a message is not ``pending_review``, its bytes do not match its content hash,
    or ``reviewer`` already approved its current content. Otherwise records one Approval row
    per message (reviewer, ``now``, note, content hash); a message whose distinct reviewers for
    the current hash reach its campaign's ``approvals_required`` becomes ``approved`` with
    ``approved_hash`` = that hash and ``due_at`` = its scheduled time; the others stay
    ``pending_review`` with a ``partially_approved`` event.
    """
    reviewer = _check_reviewer(reviewer)
    note = (note or "").strip() or None
    wanted = _unique(ids)
    if not wanted:
        raise ReviewError("no message ids to approve")
    messages = _lock(session, wanted)
    approvers = _approvers(session, messages)
    problems: list[tuple[type[Exception], str]] = []
    for mid in wanted:
        message = messages.get(mid)
        if message is None:
            problems.append((NotFoundError, f"message {mid} does not exist"))
        elif message.status != _PENDING.value:
            problems.append((ReviewError, f"message {mid} is {message.status}, not pending_review"))
        elif message.raw is None or not message.content_hash:
            problems.append((ReviewError, f"message {mid} has no composed content to approve"))
        elif hashlib.sha256(message.raw).hexdigest() != message.content_hash:
            problems.append(
                (ReviewError, f"message {mid}: its stored bytes do not match its content hash")
            )
        elif reviewer in approvers.get(mid, ()):
            problems.append((ReviewError, f"reviewer {reviewer} already approved message {mid}"))
    _refuse(problems, "approved")

    required = {
        c.id: max(1, c.approvals_required)
        for c in session.exec(
            select(Campaign).where(col(Campaign.id).in_({m.campaign_id for m in messages.values()}))
        ).all()
    }
    results = []
    for mid in wanted:
        message = messages[mid]
        content_hash = message.content_hash
        assert content_hash is not None
        session.add(
            Approval(
                message_id=mid, reviewer=reviewer, content_hash=content_hash, note=note, at=now
            )
        )
        reviewers = (*approvers.get(mid, ()), reviewer)
        need = required[message.campaign_id]
        data = {
            "reviewer": reviewer,
            "reviewers": list(reviewers),
            "hash": content_hash,
            "note": note,
            "approvals": len(reviewers),
            "approvals_required": need,
        }
        done = len(reviewers) >= need
        if done:
            transition(
                session,
                message,
                MessageStatus.APPROVED,
                now=now,
                actor=reviewer,
                reason=note,
                data=data,
                action="approved",
                approved_hash=content_hash,
                due_at=message.scheduled_for,
                stale_reason=None,
            )
        else:
            transition(
                session,
                message,
                _PENDING,
                now=now,
                actor=reviewer,
                reason=note,
                data=data,
                action="partially_approved",
            )
        results.append(
            ApproveResult(
                id=mid,
                reviewer=reviewer,
                approved=done,
                approvals=reviewers,
                approvals_required=need,
                content_hash=content_hash,
            )
        )
    session.flush()
    return results


def approve_all(
    session: Session,
    *,
    campaign: str | None = None,
    reviewer: str,
    note: str | None = None,
    now: datetime,
) -> list[ApproveResult]:
    """Approve every message waiting for review (in ``campaign``, if given) that ``reviewer``
    has not yet approved, in one all-or-nothing batch. Returns [] when there is none."""
    reviewer = _check_reviewer(reviewer)
    ids = pending_ids(session, campaign=campaign, reviewer=reviewer)
    if not ids:
        return []
    return approve(session, ids, reviewer=reviewer, note=note, now=now)


def reject(
    session: Session,
    ids: Sequence[int],
    *,
    reviewer: str,
    reason: str,
    now: datetime,
) -> list[RejectResult]:
    """Reject the messages ``ids`` (→ ``rejected``, never sent), all or nothing.

    ``reason`` is required. Refuses the whole batch when an id does not exist or a message is
    not ``pending_review``.
    """
    reviewer = _check_reviewer(reviewer)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("a reason is required to reject a message (--reason)")
    wanted = _unique(ids)
    if not wanted:
        raise ReviewError("no message ids to reject")
    messages = _lock(session, wanted)
    problems: list[tuple[type[Exception], str]] = []
    for mid in wanted:
        message = messages.get(mid)
        if message is None:
            problems.append((NotFoundError, f"message {mid} does not exist"))
        elif message.status != _PENDING.value:
            problems.append((ReviewError, f"message {mid} is {message.status}, not pending_review"))
    _refuse(problems, "rejected")
    for mid in wanted:
        transition(
            session,
            messages[mid],
            MessageStatus.REJECTED,
            now=now,
            actor=reviewer,
            reason=reason,
            data={"reviewer": reviewer, "hash": messages[mid].content_hash},
            action="rejected",
        )
    return [RejectResult(id=mid, reviewer=reviewer, reason=reason) for mid in wanted]


def edit(
    session: Session,
    message_id: int,
    *,
    subject: str,
    text: str,
    html: str | None,
    reviewer: str,
    now: datetime,
    recompose: Recompose,
) -> EditResult:
    """Replace a message's subject, text and HTML, recompose its bytes, and send it back to
    review.

    Only ``pending_review`` and ``approved`` messages can be edited. When the new content
    equals the old nothing is written (``changed`` False). Otherwise the row gets the new
    content, bytes and hash from ``recompose``, ``edited`` = True (planning never re-renders
    it), no approved hash, status ``pending_review``; its approval rows are deleted (the event
    log keeps them), and an ``edited`` event records the reviewer and a unified diff.
    """
    reviewer = _check_reviewer(reviewer)
    check_header_text(subject, field="subject")
    subject = subject.strip()
    if not subject:
        raise ReviewError("subject: must not be empty")
    if not text.strip():
        raise ReviewError("text: the text part must not be empty")
    if html is not None and not html.strip():
        html = None
    message = _lock(session, [message_id]).get(message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    status = MessageStatus(message.status)
    if status not in (_PENDING, MessageStatus.APPROVED):
        raise ReviewError(
            f"message {message_id} is {status.value}; only pending_review or approved messages "
            "can be edited"
        )
    diff = (
        _unified("subject", message.subject + "\n", subject + "\n")
        + _unified("text", message.text, text)
        + _unified("html", message.html, html)
    )
    if (subject, text, html) == (message.subject, message.text, message.html):
        return EditResult(message_id, False, message.content_hash, message.content_hash, (), "")
    raw, new_hash = recompose(session, message, subject, text, html)
    if hashlib.sha256(raw).hexdigest() != new_hash:
        raise ReviewError(f"message {message_id}: the recomposed bytes do not match their hash")
    cleared = _approvers(session, [message_id]).get(message_id, ())
    session.execute(sa.delete(Approval).where(col(Approval.message_id) == message_id))
    old_hash = message.content_hash
    transition(
        session,
        message,
        _PENDING,
        now=now,
        actor=reviewer,
        data={
            "reviewer": reviewer,
            "diff": diff,
            "old_hash": old_hash,
            "new_hash": new_hash,
            "cleared_approvals": list(cleared),
        },
        action="edited",
        subject=subject,
        text=text,
        html=html,
        raw=raw,
        content_hash=new_hash,
        approved_hash=None,
        edited=True,
    )
    return EditResult(message_id, True, old_hash, new_hash, cleared, diff)
