"""Review rows: messages waiting for review with what they belong to, approvals, the locks a
review batch takes, and the queue listing.

Keyword-only functions over the ``Session`` of one transaction; state changes stay in
:mod:`outreach.lifecycle`. :func:`lock_messages` takes ``SELECT … FOR UPDATE`` on PostgreSQL
(on SQLite every transaction is ``BEGIN IMMEDIATE`` and already holds the write lock).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from outreach.db import is_postgres
from outreach.errors import NotFoundError
from outreach.identity import Channel, ReviewChannel
from outreach.models import Approval, Attempt, Campaign, Contact, Event, Inbound, Message, Step
from outreach.states import MessageStatus


class MessageContext(NamedTuple):
    """A message with the campaign, step and contact it belongs to."""

    message: Message
    campaign: Campaign
    step: Step
    contact: Contact


class QueueRow(NamedTuple):
    """A message with its campaign's slug, its step's key and its recipient's address."""

    message: Message
    campaign_slug: str
    step_key: str
    to_email: str


def campaign_id(session: Session, *, slug: str) -> int:
    """The id of the campaign ``slug``; :class:`NotFoundError` when there is none."""
    cid = session.exec(select(Campaign.id).where(Campaign.slug == slug)).first()
    if cid is None:
        raise NotFoundError(f"no campaign {slug!r}")
    return cid


class ReviewPolicy(NamedTuple):
    """What a campaign asks of approvals: how many distinct reviewers, through which channel."""

    slug: str
    approvals_required: int
    review_channel: str


def _counted() -> sa.ColumnElement[bool]:
    """The approvals a campaign counts: all of them, or only web ones for a campaign with
    ``review_channel = "web"`` (joined on Message and Campaign)."""
    return sa.or_(
        col(Campaign.review_channel) != ReviewChannel.WEB.value,
        col(Approval.channel) == Channel.WEB.value,
    )


def approvers(session: Session, *, message_ids: Iterable[int]) -> dict[int, tuple[str, ...]]:
    """Distinct reviewers per message who approved its *current* content hash through a
    channel its campaign counts, oldest first; messages nobody approved are absent."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Approval.message_id, Approval.reviewer)
        .join(Message, col(Message.id) == col(Approval.message_id))
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .where(
            col(Approval.message_id).in_(ids),
            col(Approval.content_hash) == col(Message.content_hash),
            _counted(),
        )
        .order_by(col(Approval.at), col(Approval.id))
    ).all()
    out: dict[int, list[str]] = {}
    for row in rows:
        names = out.setdefault(row.message_id, [])
        if row.reviewer not in names:
            names.append(row.reviewer)
    return {mid: tuple(names) for mid, names in out.items()}


def pending_messages(
    session: Session,
    *,
    campaign_id: int | None = None,
    step_key: str | None = None,
    language: str | None = None,
) -> list[MessageContext]:
    """Messages in ``pending_review`` (of one campaign, step key and language, when given),
    oldest scheduled first."""
    stmt = (
        select(Message, Campaign, Step, Contact)
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .where(Message.status == MessageStatus.PENDING_REVIEW.value)
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    if campaign_id is not None:
        stmt = stmt.where(Message.campaign_id == campaign_id)
    if step_key is not None:
        stmt = stmt.where(Step.key == step_key)
    if language is not None:
        stmt = stmt.where(Message.language == language)
    return [MessageContext(*row) for row in session.exec(stmt).all()]


def upcoming_messages(session: Session, *, limit: int) -> list[MessageContext]:
    """The next ``limit`` messages to leave: approved or retrying, by when they are due."""
    stmt = (
        select(Message, Campaign, Step, Contact)
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .where(
            col(Message.status).in_([MessageStatus.APPROVED.value, MessageStatus.RETRYING.value])
        )
        .order_by(col(Message.due_at), col(Message.id))
        .limit(limit)
    )
    return [MessageContext(*row) for row in session.exec(stmt).all()]


def count_stale(session: Session) -> int:
    """How many messages wait for review again because their re-render differed (stale)."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(Message)
        .where(
            col(Message.status) == MessageStatus.PENDING_REVIEW.value,
            col(Message.stale_reason).is_not(None),
        )
    )
    return int(session.execute(stmt).scalar() or 0)


def message_context(session: Session, *, message_id: int) -> MessageContext | None:
    """The message ``message_id`` with its campaign, step and contact; None when missing."""
    message = session.get(Message, message_id)
    if message is None:
        return None
    campaign = session.get(Campaign, message.campaign_id)
    step = session.get(Step, message.step_id)
    contact = session.get(Contact, message.contact_id)
    assert campaign is not None and step is not None and contact is not None
    return MessageContext(message, campaign, step, contact)


def get_message(session: Session, *, message_id: int) -> Message | None:
    """The message ``message_id``, or None."""
    return session.get(Message, message_id)


def message_events(session: Session, *, message_id: int) -> list[Event]:
    """The event-log rows about message ``message_id``, oldest first."""
    return list(
        session.exec(
            select(Event)
            .where(Event.entity == "message", Event.entity_id == message_id)
            .order_by(col(Event.at), col(Event.id))
        ).all()
    )


def pending_ids(
    session: Session, *, campaign_id: int | None = None, reviewer: str | None = None
) -> list[int]:
    """Ids of the ``pending_review`` messages (of one campaign, if given), oldest scheduled
    first; with ``reviewer``, only those this reviewer has not approved in their current
    content."""
    stmt = (
        select(Message.id)
        .where(Message.status == MessageStatus.PENDING_REVIEW.value)
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    if campaign_id is not None:
        stmt = stmt.where(Message.campaign_id == campaign_id)
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


def count_by_campaign(session: Session, *, message_ids: Collection[int]) -> dict[str, int]:
    """How many of ``message_ids`` each campaign holds, by slug (sorted by slug)."""
    if not message_ids:
        return {}
    rows = session.execute(
        sa.select(Campaign.slug, sa.func.count(col(Message.id)).label("n"))
        .join(Message, col(Message.campaign_id) == col(Campaign.id))
        .where(col(Message.id).in_(list(message_ids)))
        .group_by(col(Campaign.slug))
        .order_by(col(Campaign.slug))
    ).all()
    return {row.slug: int(row.n) for row in rows}


def queue_rows(
    session: Session,
    *,
    status: MessageStatus | None = None,
    campaign_id: int | None = None,
    limit: int | None = None,
) -> list[QueueRow]:
    """Messages in any state (or one ``status``, of one campaign), oldest scheduled first, at
    most ``limit``."""
    stmt = (
        sa.select(Message, Campaign.slug, Step.key, Contact.email)
        .join(Campaign, col(Campaign.id) == col(Message.campaign_id))
        .join(Step, col(Step.id) == col(Message.step_id))
        .join(Contact, col(Contact.id) == col(Message.contact_id))
        .order_by(col(Message.scheduled_for), col(Message.id))
    )
    if status is not None:
        stmt = stmt.where(col(Message.status) == status.value)
    if campaign_id is not None:
        stmt = stmt.where(col(Message.campaign_id) == campaign_id)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [QueueRow(*row) for row in session.execute(stmt).all()]


def lock_messages(session: Session, *, message_ids: Iterable[int]) -> dict[int, Message]:
    """Load and lock the messages ``message_ids`` (``FOR UPDATE``, in id order so concurrent
    batches cannot deadlock), refreshing any copy the session already holds. Missing ids are
    absent from the result."""
    rows = session.exec(
        select(Message)
        .where(col(Message.id).in_(sorted(set(message_ids))))
        .order_by(col(Message.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return {m.id: m for m in rows if m.id is not None}


def approval_logins(session: Session, *, message_ids: Iterable[int]) -> dict[int, dict[str, str]]:
    """Per message: the OS logins behind CLI approvals of its current content, each with the
    reviewer it approved as; messages without one are absent."""
    ids = list(message_ids)
    if not ids:
        return {}
    rows = session.execute(
        sa.select(Approval.message_id, Approval.login, Approval.reviewer)
        .join(Message, col(Message.id) == col(Approval.message_id))
        .where(
            col(Approval.message_id).in_(ids),
            col(Approval.content_hash) == col(Message.content_hash),
            col(Approval.login).is_not(None),
        )
    ).all()
    out: dict[int, dict[str, str]] = {}
    for row in rows:
        out.setdefault(row.message_id, {}).setdefault(row.login, row.reviewer)
    return out


def review_policies(session: Session, *, campaign_ids: Iterable[int]) -> dict[int, ReviewPolicy]:
    """Per campaign id: its slug, how many distinct reviewers a message needs (at least 1) and
    which approvals it counts."""
    rows = session.exec(select(Campaign).where(col(Campaign.id).in_(set(campaign_ids)))).all()
    return {
        c.id: ReviewPolicy(c.slug, max(1, c.approvals_required), c.review_channel)
        for c in rows
        if c.id is not None
    }


def add_approval(
    session: Session,
    *,
    message_id: int,
    reviewer: str,
    content_hash: str,
    note: str | None,
    at: datetime,
    channel: str = Channel.CLI.value,
    login: str | None = None,
) -> None:
    """Record that ``reviewer`` approved the content ``content_hash`` of a message, through
    ``channel`` (and, from the CLI, as OS user ``login``). An earlier approval of the same
    content by the same reviewer that its campaign no longer counts (a CLI approval once the
    campaign takes only web ones) is replaced."""
    values = {
        "message_id": message_id,
        "reviewer": reviewer,
        "content_hash": content_hash,
        "note": note,
        "at": at,
        "channel": channel,
        "login": login,
    }
    dialect = postgresql if is_postgres(session) else sqlite
    stmt = dialect.insert(Approval).values(**values)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["message_id", "reviewer", "content_hash"],
            set_={k: values[k] for k in ("note", "at", "channel", "login")},
        )
    )


def delete_approvals(session: Session, *, message_ids: Collection[int]) -> None:
    """Delete every approval row of these messages (the event log keeps who approved what)."""
    if message_ids:
        session.execute(sa.delete(Approval).where(col(Approval.message_id).in_(list(message_ids))))


def message_attempts(session: Session, *, message_id: int) -> list[Attempt]:
    """The SMTP attempts of message ``message_id``, oldest first."""
    return list(
        session.exec(
            select(Attempt).where(Attempt.message_id == message_id).order_by(col(Attempt.number))
        )
    )


def message_replies(session: Session, *, message_id: int) -> list[Inbound]:
    """The inbound mail matched to message ``message_id``, oldest first."""
    return list(
        session.exec(
            select(Inbound)
            .where(Inbound.matched_message_id == message_id)
            .order_by(col(Inbound.received_at), col(Inbound.id))
        )
    )


def event_times_since(
    session: Session, *, message_id: int, action: str, since: datetime
) -> list[datetime]:
    """When the message ``message_id`` had events ``action`` at or after ``since``, oldest
    first (what a rate limit counts)."""
    return list(
        session.exec(
            select(Event.at)
            .where(
                Event.entity == "message",
                Event.entity_id == message_id,
                Event.action == action,
                col(Event.at) >= since,
            )
            .order_by(col(Event.at))
        )
    )
