"""An operator's actions on the queue (``outreach queue resolve|cancel``): settle a message a
dead dispatcher left ``unknown``, and cancel unsent messages."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.errors import NotFoundError, OutreachError
from outreach.lifecycle import transition
from outreach.models import Message
from outreach.repository import outbox
from outreach.states import AttemptPhase, MessageStatus

#: What ``queue cancel`` may cancel: anything not sent, not being sent and not finished.
CANCELLABLE = frozenset(
    {
        MessageStatus.PENDING_REVIEW,
        MessageStatus.RENDER_ERROR,
        MessageStatus.APPROVED,
        MessageStatus.RETRYING,
        MessageStatus.UNKNOWN,
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
    changes: dict[str, Any]
    if sent:
        to, reason = MessageStatus.SENT, "operator: delivered"
        changes = {"sent_at": message.sent_at or now, "attempt_phase": AttemptPhase.DONE.value}
    else:
        to, reason = MessageStatus.APPROVED, "operator: send again"
        changes = {
            "due_at": now,
            "attempt_phase": None,
            "lease_owner": None,
            **outbox.LEASE_CLEARED,
        }
    return transition(
        session, message, to, now=now, actor=actor, action="resolved", reason=reason, **changes
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
