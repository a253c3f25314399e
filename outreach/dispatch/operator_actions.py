"""An operator's actions on the queue (``outreach queue resolve|cancel``): settle messages a
dead dispatcher left ``unknown`` — by id, or every one of a campaign — and cancel unsent
messages. Each action is all or nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlmodel import Session

from outreach.errors import NotFoundError, OutreachError
from outreach.lifecycle import transition
from outreach.models import Message
from outreach.repository import outbox
from outreach.repository.review import count_by_campaign
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
    (message,) = resolve_many(session, [message_id], sent=sent, now=now, actor=actor)
    return message


def resolve_many(
    session: Session, ids: Sequence[int], *, sent: bool, now: datetime, actor: str
) -> list[Message]:
    """:func:`resolve_unknown` for every message in ``ids``, all or nothing: any missing
    message, or one that is not ``unknown``, → :class:`QueueError` (:class:`NotFoundError` when
    only ids are missing) naming each problem, and nothing changes."""
    wanted = list(dict.fromkeys(ids))
    rows = outbox.messages_by_id(session, wanted)
    missing = [f"no message {mid}" for mid in wanted if mid not in rows]
    wrong = [
        f"message {mid} is {rows[mid].status}, not unknown"
        for mid in wanted
        if mid in rows and rows[mid].status != MessageStatus.UNKNOWN.value
    ]
    if missing or wrong:
        problems = "; ".join(missing + wrong)
        if wrong:
            problems += "; only unknown messages can be resolved"
        if len(wanted) > 1:
            problems += "; nothing was resolved"
        raise (QueueError if wrong else NotFoundError)(problems)
    return [_resolve(session, rows[mid], sent=sent, now=now, actor=actor) for mid in wanted]


def unknown_ids(session: Session, *, campaign: str | None = None) -> list[int]:
    """The ``unknown`` messages (of the campaign named ``campaign``, if given), oldest
    scheduled first: what ``queue resolve --status unknown`` resolves."""
    return outbox.ids_in_status(session, status=MessageStatus.UNKNOWN.value, campaign=campaign)


def count_by_campaign_slug(session: Session, ids: Sequence[int]) -> dict[str, int]:
    """How many of ``ids`` each campaign holds, by slug: what a resolve by filter asks
    confirmation for."""
    return count_by_campaign(session, message_ids=ids)


def _resolve(
    session: Session, message: Message, *, sent: bool, now: datetime, actor: str
) -> Message:
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
    return transition(
        session,
        message,
        MessageStatus.APPROVED,
        now=now,
        actor=actor,
        action="resolved",
        reason="operator: send again",
        due_at=now,
        attempt_phase=None,
        lease_owner=None,
        lease_token=None,
        lease_expires_at=None,
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
