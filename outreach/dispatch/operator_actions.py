"""An operator's actions on the queue (``outreach queue resolve|cancel``, the console's queue
page): settle messages a dead dispatcher left ``unknown`` — by id, or every one of a campaign —
requeue a ``failed`` one, and cancel unsent (or failed) messages. Each action is all or
nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.errors import NotFoundError, OutreachError
from outreach.lifecycle import transition
from outreach.models import Message
from outreach.repository import outbox
from outreach.repository.review import count_by_campaign
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


@dataclass(frozen=True)
class UnknownSelection:
    """What ``queue resolve --status unknown`` would resolve: the ``unknown`` messages' ids,
    oldest scheduled first, and how many each campaign holds (by slug)."""

    ids: list[int]
    by_campaign: dict[str, int]

    def describe(self) -> str:
        """``3 message(s) in ccm-2010 (2), msp (1)``."""
        parts = ", ".join(f"{slug} ({n})" for slug, n in self.by_campaign.items())
        return f"{len(self.ids)} message(s) in {parts}"


def unknown_messages(session: Session, *, campaign: str | None = None) -> UnknownSelection:
    """The ``unknown`` messages (of the campaign named ``campaign``, if given): what ``queue
    resolve --status unknown`` resolves once confirmed. :class:`NotFoundError` when no campaign
    has that name."""
    if campaign is not None and not outbox.campaign_rows(session, slug=campaign):
        raise NotFoundError(f"no campaign {campaign!r}")
    ids = outbox.ids_in_status(session, status=MessageStatus.UNKNOWN.value, campaign=campaign)
    return UnknownSelection(ids, count_by_campaign(session, message_ids=ids))


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
    if not content_ok(message.body.raw, message.content_hash, message.approved_hash):
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
