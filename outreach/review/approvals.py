"""The approval rule, in one place for every front end (the CLI, the web console): which
approvals count for a message and why a reviewer may not approve it now.

* An approval counts for the bytes it saw: only approvals of the message's *current* content
  hash count, one per reviewer (``approvals_required = 2`` means two different reviewers).
* A message is approved only while it waits for review, its bytes are composed and match their
  hash, and its text is current: a *stale* message (its text would differ on the day it now
  leaves, and it could not be rendered again yet) is refused until it is re-rendered.

:func:`outreach.review.actions.approve` applies the rule; :func:`current_approvals` is what
lists and counts show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from outreach.db import Session
from outreach.errors import NotFoundError, ReviewError
from outreach.models import Message
from outreach.repository import review as rows
from outreach.review.rules import bytes_match_hash
from outreach.states import MessageStatus

#: One reason a review action is refused: the error class it calls for, and the text.
Problem = tuple[type[Exception], str]


def current_approvals(
    session: Session, *, message_ids: Iterable[int]
) -> dict[int, tuple[str, ...]]:
    """The reviewers whose approval counts for each message: one each, for its current content
    hash, oldest first (messages nobody approved are absent)."""
    return rows.approvers(session, message_ids=message_ids)


def clear_approvals(session: Session, *, message_id: int) -> tuple[str, ...]:
    """Delete every approval row of a message whose content changed (the event log keeps who
    approved what); returns the reviewers whose approval counted until now."""
    counted = current_approvals(session, message_ids=[message_id])
    rows.delete_approvals(session, message_ids=[message_id])
    return counted.get(message_id, ())


def pending_problem(mid: int, message: Message | None) -> Problem | None:
    """Why message ``mid`` cannot be reviewed (approved or rejected) now, or None."""
    if message is None:
        return (NotFoundError, f"message {mid} does not exist")
    if message.status != MessageStatus.PENDING_REVIEW.value:
        return (ReviewError, f"message {mid} is {message.status}, not pending_review")
    return None


def approval_problem(
    mid: int,
    message: Message | None,
    reviewer: str,
    approvers: Mapping[int, tuple[str, ...]],
) -> Problem | None:
    """Why ``reviewer`` may not approve message ``mid`` now (``approvers``: the counted
    approvals, :func:`current_approvals`), or None."""
    problem = pending_problem(mid, message)
    if problem is not None or message is None:
        return problem
    if message.raw is None or not message.content_hash:
        return (ReviewError, f"message {mid} has no composed content to approve")
    if not bytes_match_hash(message.raw, message.content_hash):
        return (ReviewError, f"message {mid}: its stored bytes do not match its content hash")
    if message.stale_reason:
        return (
            ReviewError,
            f"message {mid} is stale ({message.stale_reason}): its text must be rendered again "
            "before it can be approved (outreach plan re-renders it; or edit it)",
        )
    if reviewer in approvers.get(mid, ()):
        return (ReviewError, f"reviewer {reviewer} already approved message {mid}")
    return None
