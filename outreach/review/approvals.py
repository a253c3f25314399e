"""The approval rule, in one place for every front end (the CLI, the web console): which
approvals count for a message and why a reviewer may not approve it now.

* An approval counts for the bytes it saw: only approvals of the message's *current* content
  hash count, one per reviewer (``approvals_required = 2`` means two different reviewers), and
  only through a channel its campaign counts (``review_channel = "web"``: signed-in web
  approvals only; the filter is in :func:`outreach.repository.review.approvers`).
* Two different reviewers are two different identities: an account approves once, and one OS
  login cannot approve twice from the CLI under two account names.
* A message is approved only while it waits for review, its bytes are composed and match their
  hash, and its text is current: a *stale* message (its text would differ on the day it now
  leaves, and it could not be rendered again yet) is refused until it is re-rendered.

:func:`outreach.review.actions.approve` applies the rule; :func:`current_approvals` is what
lists and counts show.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from outreach.db import Session
from outreach.errors import NotFoundError, ReviewError
from outreach.identity import Reviewer
from outreach.models import Message
from outreach.repository import review as rows
from outreach.review.rules import bytes_match_hash, channel_counts
from outreach.states import MessageStatus

#: One reason a review action is refused: the error class it calls for, and the text.
Problem = tuple[type[Exception], str]


@dataclass(frozen=True)
class ApprovalBatch:
    """What an approval batch reads once, after the lock: per message the reviewers counted
    and the OS logins behind CLI approvals of its current content; per campaign its policy."""

    approvers: Mapping[int, tuple[str, ...]]
    logins: Mapping[int, Mapping[str, str]]
    policies: Mapping[int, rows.ReviewPolicy]


def current_approvals(
    session: Session, *, message_ids: Iterable[int]
) -> dict[int, tuple[str, ...]]:
    """The reviewers whose approval counts for each message: one each, for its current content
    hash, through a channel its campaign counts, oldest first (messages nobody approved are
    absent)."""
    return rows.approvers(session, message_ids=message_ids)


def approval_batch(session: Session, messages: Mapping[int, Message]) -> ApprovalBatch:
    """Read what :func:`approval_problem` needs for the (locked) ``messages``."""
    return ApprovalBatch(
        approvers=current_approvals(session, message_ids=messages),
        logins=rows.approval_logins(session, message_ids=messages),
        policies=rows.review_policies(
            session, campaign_ids={m.campaign_id for m in messages.values()}
        ),
    )


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


def _content_problem(mid: int, message: Message) -> Problem | None:
    """Why the content of message ``mid`` cannot be approved: not composed, bytes not matching
    their hash, or stale; else None."""
    if message.body.raw is None or not message.content_hash:
        return (ReviewError, f"message {mid} has no composed content to approve")
    if not bytes_match_hash(message.body.raw, message.content_hash):
        return (ReviewError, f"message {mid}: its stored bytes do not match its content hash")
    if message.stale_reason:
        return (
            ReviewError,
            f"message {mid} is stale ({message.stale_reason}): its text must be rendered again "
            "before it can be approved (outreach plan re-renders it; or edit it)",
        )
    return None


def approval_problem(
    mid: int, message: Message | None, who: Reviewer, batch: ApprovalBatch
) -> Problem | None:
    """Why ``who`` may not approve message ``mid`` now (``batch``: :func:`approval_batch`),
    or None."""
    problem = pending_problem(mid, message)
    if problem is not None or message is None:
        return problem
    problem = _content_problem(mid, message)
    if problem is not None:
        return problem
    policy = batch.policies[message.campaign_id]
    if not channel_counts(policy.review_channel, who.channel):
        return (
            ReviewError,
            f"message {mid}: campaign {policy.slug} counts only approvals made in a signed-in "
            'web session (review_channel = "web")',
        )
    if who.name in batch.approvers.get(mid, ()):
        return (ReviewError, f"reviewer {who.name} already approved message {mid}")
    earlier = batch.logins.get(mid, {}).get(who.login) if who.login else None
    if earlier is not None:
        return (ReviewError, f"login {who.login} already approved message {mid} (as {earlier})")
    return None
