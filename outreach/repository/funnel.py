"""Funnel rows: campaigns with how many of their messages and enrollments are in each state,
and their milestones."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.errors import NotFoundError
from outreach.models import Campaign, Enrollment, Inbound, Message, Milestone, Step

#: Per campaign id: how many rows are in each state (states with none are absent).
StateCounts = dict[int, dict[str, int]]


def campaigns(session: Session, *, slug: str | None = None) -> list[Campaign]:
    """Every campaign by slug, or only ``slug`` (NotFoundError when there is none)."""
    query = select(Campaign).order_by(col(Campaign.slug))
    if slug is not None:
        query = query.where(Campaign.slug == slug)
    found = list(session.exec(query).all())
    if slug is not None and not found:
        raise NotFoundError(f"no campaign {slug!r}")
    return found


def _state_counts(
    session: Session,
    campaign_id: sa.ColumnElement[int],
    status: sa.ColumnElement[str],
    campaign_ids: Sequence[int],
) -> StateCounts:
    out: StateCounts = {}
    if not campaign_ids:
        return out
    rows = session.execute(
        sa.select(
            campaign_id.label("campaign_id"), status.label("status"), sa.func.count().label("n")
        )
        .where(campaign_id.in_(campaign_ids))
        .group_by(campaign_id, status)
    )
    for row in rows:
        out.setdefault(row.campaign_id, {})[row.status] = row.n
    return out


def message_counts(session: Session, *, campaign_ids: Sequence[int]) -> StateCounts:
    """How many messages of each campaign are in each state."""
    return _state_counts(session, col(Message.campaign_id), col(Message.status), campaign_ids)


def enrollment_counts(session: Session, *, campaign_ids: Sequence[int]) -> StateCounts:
    """How many enrollments of each campaign are in each state."""
    return _state_counts(session, col(Enrollment.campaign_id), col(Enrollment.status), campaign_ids)


def milestones(session: Session, *, campaign_ids: Sequence[int]) -> dict[int, list[Milestone]]:
    """Each campaign's milestones, by date."""
    out: dict[int, list[Milestone]] = {}
    if not campaign_ids:
        return out
    query = (
        select(Milestone)
        .where(col(Milestone.campaign_id).in_(campaign_ids))
        .order_by(col(Milestone.date))
    )
    for m in session.exec(query):
        out.setdefault(m.campaign_id, []).append(m)
    return out


#: Per (campaign id, step key): how many rows are in each state or class.
StepCounts = dict[tuple[int, str], dict[str, int]]


def step_message_counts(session: Session, *, campaign_ids: Sequence[int]) -> StepCounts:
    """How many messages of each campaign's steps are in each state."""
    return _step_counts(
        session,
        campaign_ids,
        key=col(Message.status),
        counted=sa.func.count(),
        select_from=lambda query: query,
    )


def step_reply_counts(session: Session, *, campaign_ids: Sequence[int]) -> StepCounts:
    """How many distinct contacts answered each campaign step's letters, per classification
    of their reply (human, bounce_hard, unsubscribe, …)."""
    return _step_counts(
        session,
        campaign_ids,
        key=col(Inbound.classification),
        counted=sa.func.count(sa.distinct(col(Message.contact_id))),
        select_from=lambda query: query.join(
            Message, col(Message.id) == col(Inbound.matched_message_id)
        ),
    )


def _step_counts(
    session: Session,
    campaign_ids: Sequence[int],
    *,
    key: Any,
    counted: Any,
    select_from: Callable[[Any], Any],
) -> StepCounts:
    """``counted`` per (campaign id, step key) and ``key`` (a message's state, a reply's
    class), over the messages (joined as ``select_from`` says) of ``campaign_ids``."""
    out: StepCounts = {}
    if not campaign_ids:
        return out
    query = sa.select(
        col(Message.campaign_id).label("campaign_id"),
        col(Step.key).label("step"),
        key.label("kind"),
        counted.label("n"),
    )
    rows = session.execute(
        select_from(query)
        .join(Step, col(Step.id) == col(Message.step_id))
        .where(col(Message.campaign_id).in_(campaign_ids))
        .group_by(col(Message.campaign_id), col(Step.key), key)
    )
    for row in rows:
        out.setdefault((row.campaign_id, row.step), {})[row.kind] = row.n
    return out


def steps_in_order(session: Session, *, campaign_ids: Sequence[int]) -> dict[int, list[str]]:
    """Each campaign's active step keys, in file order."""
    out: dict[int, list[str]] = {}
    if not campaign_ids:
        return out
    query = (
        select(Step)
        .where(col(Step.campaign_id).in_(campaign_ids), col(Step.active).is_(True))
        .order_by(col(Step.campaign_id), col(Step.position))
    )
    for step in session.exec(query):
        out.setdefault(step.campaign_id, []).append(step.key)
    return out
