"""What reviewers do: approve, reject and edit messages.

Every function takes the ``session`` of one transaction and the moment ``now`` (no clock
reads). State changes go through :func:`outreach.lifecycle.transition`, so each one writes its
event row in the same transaction. Batches (``approve``, ``reject``) are all-or-nothing: every
id is checked before anything is written, and the caller's transaction rolls back on any error.

Concurrency: the messages a batch touches are locked first
(:func:`outreach.repository.review.lock_messages`), and approvals are counted after the lock,
so two reviewers approving the same message at the same moment both count.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from outreach.db import Session
from outreach.errors import NotFoundError, ReviewError
from outreach.headersafe import check_header_text
from outreach.identity import Reviewer, as_reviewer
from outreach.lifecycle import transition
from outreach.models import Message
from outreach.repository import review as rows
from outreach.review.approvals import (
    Problem,
    approval_batch,
    approval_problem,
    clear_approvals,
    pending_problem,
)
from outreach.review.rules import (
    bytes_match_hash,
    check_editable,
    check_reviewer,
    edit_diff,
    unique_ids,
)
from outreach.review.views import pending_ids
from outreach.states import MessageStatus

#: ``(session, message, subject, text, html) -> (raw bytes, sha256 hex)``: composes the final
#: bytes of an edited message (the planner's ``recompose_message`` with its settings bound).
Recompose = Callable[[Session, Message, str, str, str | None], tuple[bytes, str]]


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
    """A rejected message, who rejected it and why."""

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


def _refuse(problems: list[Problem], verb: str) -> None:
    """Raise one error naming every problem (NotFoundError when an id is missing)."""
    if problems:
        kind = NotFoundError if any(k is NotFoundError for k, _ in problems) else ReviewError
        raise kind("; ".join(text for _, text in problems) + f"; nothing was {verb}")


def _record_approval(
    session: Session,
    message: Message,
    *,
    who: Reviewer,
    earlier: tuple[str, ...],
    need: int,
    note: str | None,
    now: datetime,
) -> ApproveResult:
    """Add ``who``'s approval of ``message``'s current content; move it to ``approved``
    when ``need`` distinct reviewers are reached, else log a ``partially_approved`` event."""
    assert message.id is not None and message.content_hash is not None
    content_hash = message.content_hash
    rows.add_approval(
        session,
        message_id=message.id,
        reviewer=who.name,
        content_hash=content_hash,
        note=note,
        at=now,
        channel=who.channel.value,
        login=who.login,
    )
    reviewers = (*earlier, who.name)
    done = len(reviewers) >= need
    data = {
        "reviewer": who.name,
        "channel": who.channel.value,
        "reviewers": list(reviewers),
        "hash": content_hash,
        "note": note,
        "approvals": len(reviewers),
        "approvals_required": need,
    }
    # the last approval needed sets the approved hash and makes the message due
    changes = (
        {"approved_hash": content_hash, "due_at": message.scheduled_for, "stale_reason": None}
        if done
        else {}
    )
    transition(
        session,
        message,
        MessageStatus.APPROVED if done else MessageStatus.PENDING_REVIEW,
        now=now,
        actor=who.recorded,
        reason=note,
        data=data,
        action="approved" if done else "partially_approved",
        **changes,
    )
    return ApproveResult(message.id, who.name, done, reviewers, need, content_hash)


def _checked_reviewer(reviewer: Reviewer | str) -> Reviewer:
    """``reviewer`` as a :class:`Reviewer` whose name passes :func:`check_reviewer`."""
    who = as_reviewer(reviewer)
    return replace(who, name=check_reviewer(who.name))


def approve(
    session: Session,
    ids: Sequence[int],
    *,
    reviewer: Reviewer | str,
    note: str | None = None,
    now: datetime,
) -> list[ApproveResult]:
    """Approve the messages ``ids`` as ``reviewer``, all or nothing.

    Refuses the whole batch (NotFoundError / ReviewError naming each problem) when the rule of
    :func:`outreach.review.approvals.approval_problem` refuses any message: an id does not
    exist, a message is not ``pending_review``, its bytes do not match its content hash, it is
    stale (not yet rendered again), its campaign counts only web approvals and this one is
    not, or ``reviewer`` (or, from the CLI, the same OS login under another name) already
    approved its current content. Otherwise records one Approval row per message (reviewer,
    channel, login, ``now``, note, content hash); a message whose distinct reviewers for the
    current hash reach its campaign's ``approvals_required`` becomes ``approved`` with
    ``approved_hash`` = that hash and ``due_at`` = its scheduled time; the others stay
    ``pending_review`` with a ``partially_approved`` event. A plain name is a CLI identity
    recorded as given.
    """
    who = _checked_reviewer(reviewer)
    note = (note or "").strip() or None
    wanted = unique_ids(ids)
    if not wanted:
        raise ReviewError("no message ids to approve")
    messages = rows.lock_messages(session, message_ids=wanted)
    batch = approval_batch(session, messages)
    problems = [approval_problem(mid, messages.get(mid), who, batch) for mid in wanted]
    _refuse([p for p in problems if p is not None], "approved")
    results = [
        _record_approval(
            session,
            messages[mid],
            who=who,
            earlier=batch.approvers.get(mid, ()),
            need=batch.policies[messages[mid].campaign_id].approvals_required,
            note=note,
            now=now,
        )
        for mid in wanted
    ]
    return results


def approve_all(
    session: Session,
    *,
    campaign: str | None = None,
    reviewer: Reviewer | str,
    note: str | None = None,
    now: datetime,
    expected: int | None = None,
) -> list[ApproveResult]:
    """Approve every message waiting for review (in ``campaign``, if given) that ``reviewer``
    has not yet approved, in one all-or-nothing batch. Returns [] when there is none. With
    ``expected`` (the count a person confirmed), a different count refuses the batch."""
    who = _checked_reviewer(reviewer)
    ids = pending_ids(session, campaign=campaign, reviewer=who.name)
    if expected is not None and expected != len(ids):
        raise ReviewError(
            f"{len(ids)} message(s) now wait for your review, not the {expected} you confirmed; "
            "nothing was approved"
        )
    if not ids:
        return []
    return approve(session, ids, reviewer=who, note=note, now=now)


def reject(
    session: Session,
    ids: Sequence[int],
    *,
    reviewer: Reviewer | str,
    reason: str,
    now: datetime,
) -> list[RejectResult]:
    """Reject the messages ``ids`` (→ ``rejected``, never sent), all or nothing.

    ``reason`` is required. Refuses the whole batch when an id does not exist or a message is
    not ``pending_review``.
    """
    who = _checked_reviewer(reviewer)
    reason = (reason or "").strip()
    if not reason:
        raise ReviewError("a reason is required to reject a message (--reason)")
    wanted = unique_ids(ids)
    if not wanted:
        raise ReviewError("no message ids to reject")
    messages = rows.lock_messages(session, message_ids=wanted)
    problems = [pending_problem(mid, messages.get(mid)) for mid in wanted]
    _refuse([p for p in problems if p is not None], "rejected")
    for mid in wanted:
        transition(
            session,
            messages[mid],
            MessageStatus.REJECTED,
            now=now,
            actor=who.recorded,
            reason=reason,
            data={
                "reviewer": who.name,
                "channel": who.channel.value,
                "hash": messages[mid].content_hash,
            },
            action="rejected",
        )
    return [RejectResult(id=mid, reviewer=who.name, reason=reason) for mid in wanted]


def _checked_content(subject: str, text: str, html: str | None) -> tuple[str, str, str | None]:
    """The edited content as stored: subject stripped, an empty HTML part dropped; ReviewError
    for an unsafe or empty subject or an empty text part."""
    check_header_text(subject, field="subject")
    subject = subject.strip()
    if not subject:
        raise ReviewError("subject: must not be empty")
    if not text.strip():
        raise ReviewError("text: the text part must not be empty")
    if html is not None and not html.strip():
        html = None
    return subject, text, html


def edit(
    session: Session,
    message_id: int,
    *,
    subject: str,
    text: str,
    html: str | None,
    reviewer: Reviewer | str,
    now: datetime,
    recompose: Recompose,
) -> EditResult:
    """Replace a message's subject, text and HTML, recompose its bytes, and send it back to
    review.

    Only ``pending_review`` and ``approved`` messages can be edited. When the new content
    equals the old nothing is written (``changed`` False). Otherwise the row gets the new
    content, bytes and hash from ``recompose``, ``edited`` = True (planning never re-renders
    it), no approved hash, no stale mark (a person wrote this text), status
    ``pending_review``; its approval rows are deleted (the event log keeps them), and an
    ``edited`` event records the reviewer and a unified diff.
    """
    who = _checked_reviewer(reviewer)
    new = _checked_content(subject, text, html)
    message = rows.lock_messages(session, message_ids=[message_id]).get(message_id)
    if message is None:
        raise NotFoundError(f"message {message_id} does not exist")
    check_editable(message_id, message.status)
    old = (message.subject, message.body.text, message.body.html)
    if new == old:
        return EditResult(message_id, False, message.content_hash, message.content_hash, (), "")
    diff = edit_diff(old, new)
    raw, new_hash = recompose(session, message, *new)
    if not bytes_match_hash(raw, new_hash):
        raise ReviewError(f"message {message_id}: the recomposed bytes do not match their hash")
    cleared = clear_approvals(session, message_id=message_id)
    old_hash = message.content_hash
    transition(
        session,
        message,
        MessageStatus.PENDING_REVIEW,
        now=now,
        actor=who.recorded,
        data={
            "reviewer": who.name,
            "channel": who.channel.value,
            "diff": diff,
            "old_hash": old_hash,
            "new_hash": new_hash,
            "cleared_approvals": list(cleared),
        },
        action="edited",
        subject=new[0],
        text=new[1],
        html=new[2],
        raw=raw,
        content_hash=new_hash,
        approved_hash=None,
        edited=True,
        stale_reason=None,
    )
    return EditResult(message_id, True, old_hash, new_hash, cleared, diff)
