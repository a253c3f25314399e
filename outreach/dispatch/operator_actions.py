"""An operator's actions on the queue (``outreach queue resolve|cancel``, the console's queue
page): settle a message a dead dispatcher left ``unknown``, requeue a ``failed`` one, and
cancel unsent (or failed) messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.errors import NotFoundError, OutreachError
from outreach.lifecycle import transition
from outreach.models import Message
from outreach.repository import outbox
from outreach.review.rules import content_ok
from outreach.states import AttemptPhase, MessageStatus

#: What ``queue cancel`` may cancel: anything not sent, not being sent and not finished, and
#: a failed message (cancelling it acknowledges it will not go).
CANCELLABLE = frozenset(
    {
        MessageStatus.PENDING_REVIEW,
        MessageStatus.RENDER_ERROR,
        MessageStatus.APPROVED,
        MessageStatus.RETRYING,
        MessageStatus.UNKNOWN,
        MessageStatus.FAILED,
    }
)


class QueueError(OutreachError):
    """The queue operation was refused."""


def resolve_unknown(
    session: Session, message_id: int, *, sent: bool, now: datetime, actor: str
) -> Message:
    """An operator's verdict on an ``unknown`` message: it was delivered (``sent``), or it was
    not and may go again (``approved``, due now)."""
    message = outbox.get_message(session, message_id)
    if message is None:
        raise NotFoundError(f"no message {message_id}")
    if message.status != MessageStatus.UNKNOWN.value:
        raise QueueError(
            f"message {message_id} is {message.status}, not unknown; only unknown messages "
            "can be resolved"
        )
    if sent:
        return transition(
            session,
            message,
            MessageStatus.SENT,
            now=now,
            actor=actor,
            action="resolved",
            reason="operator: delivered",
            sent_at=message.sent_at or now,
            attempt_phase=AttemptPhase.DONE.value,
        )
    return _send_again(session, message, now=now, actor=actor, action="resolved")


def _send_again(
    session: Session, message: Message, *, now: datetime, actor: str, action: str, **changes: Any
) -> Message:
    """Back to ``approved``, due ``now``, with no lease and no attempt under way."""
    return transition(
        session,
        message,
        MessageStatus.APPROVED,
        now=now,
        actor=actor,
        action=action,
        reason="operator: send again",
        due_at=now,
        attempt_phase=None,
        lease_owner=None,
        **outbox.LEASE_CLEARED,
        **changes,
    )


def requeue_failed(session: Session, message_id: int, *, now: datetime, actor: str) -> Message:
    """Send a ``failed`` message again: back to ``approved``, due now, with a fresh retry
    lifetime. Refused (QueueError) unless it is failed and its bytes are still exactly the
    approved ones (rule 1)."""
    message = outbox.get_message(session, message_id)
    if message is None:
        raise NotFoundError(f"no message {message_id}")
    if message.status != MessageStatus.FAILED.value:
        raise QueueError(
            f"message {message_id} is {message.status}, not failed; only failed messages "
            "can be requeued"
        )
    if not content_ok(message.raw, message.content_hash, message.approved_hash):
        raise QueueError(
            f"message {message_id}: its bytes are not the approved ones; it cannot be requeued"
        )
    return _send_again(
        session,
        message,
        now=now,
        actor=actor,
        action="requeued",
        first_attempt_at=None,
        next_attempt_at=None,
    )


def cancel_messages(
    session: Session,
    ids: Sequence[int],
    *,
    now: datetime,
    actor: str,
    reason: str = "operator",
) -> list[Message]:
    """Cancel every message in ``ids``, all or nothing: any missing, ``sending`` or finished
    message → :class:`QueueError` naming each problem, and nothing changes."""
    problems: list[str] = []
    found: list[Message] = []
    rows = outbox.messages_by_id(session, ids)
    for mid in dict.fromkeys(ids):
        if mid not in rows:
            problems.append(f"no message {mid}")
            continue
        message = rows[mid]
        if MessageStatus(message.status) not in CANCELLABLE:
            busy = message.status == MessageStatus.SENDING.value
            problems.append(
                f"message {mid} is {'being sent right now' if busy else message.status}"
            )
        else:
            found.append(message)
    if problems:
        raise QueueError("; ".join(problems) + "; nothing was cancelled")
    for message in found:
        transition(session, message, MessageStatus.CANCELLED, now=now, actor=actor, reason=reason)
    return found
