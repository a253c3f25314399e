"""Funnel rows: campaigns with how many of their messages and enrollments are in each state,
and their milestones."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.errors import NotFoundError
from outreach.models import Campaign, Enrollment, Message, Milestone

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
