"""The funnel: how many contacts and messages are where, per campaign; the daemon's health."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.countdown import days_until, milestone_phase
from outreach.errors import NotFoundError
from outreach.models import Campaign, Enrollment, JobRun, Message, Milestone
from outreach.states import EnrollmentStatus, MessageStatus

#: The funnel's columns, in the order the CLI shows them.
FUNNEL_KEYS = (
    "enrolled",
    "pending_review",
    "render_error",
    "approved",
    "sending",
    "sent",
    "retrying",
    "failed",
    "unknown",
    "rejected",
    "cancelled",
    "replied",
    "bounced",
    "unsubscribed",
)


@dataclass(frozen=True)
class CampaignStatus:
    slug: str
    name: str
    state: str
    funnel: dict[str, int]
    milestones: list[dict[str, Any]]


def campaign_status(
    session: Session, *, now: datetime, slug: str | None = None
) -> list[CampaignStatus]:
    """The funnel of every campaign (or one), with its milestones' countdowns at ``now``."""
    query = select(Campaign).order_by(Campaign.slug)
    if slug is not None:
        query = query.where(Campaign.slug == slug)
    campaigns = session.exec(query).all()
    if slug is not None and not campaigns:
        raise NotFoundError(f"no campaign {slug!r}")
    ids = [c.id for c in campaigns]
    msg_counts: dict[tuple[int, str], int] = {}
    enr_counts: dict[tuple[int, str], int] = {}
    milestones: dict[int, list[Milestone]] = {}
    if ids:
        for cid, status, n in session.execute(
            sa.select(Message.campaign_id, Message.status, sa.func.count())
            .where(Message.campaign_id.in_(ids))
            .group_by(Message.campaign_id, Message.status)
        ):
            msg_counts[(cid, status)] = n
        for cid, status, n in session.execute(
            sa.select(Enrollment.campaign_id, Enrollment.status, sa.func.count())
            .where(Enrollment.campaign_id.in_(ids))
            .group_by(Enrollment.campaign_id, Enrollment.status)
        ):
            enr_counts[(cid, status)] = n
        for m in session.exec(
            select(Milestone).where(Milestone.campaign_id.in_(ids)).order_by(Milestone.date)
        ):
            milestones.setdefault(m.campaign_id, []).append(m)
    out = []
    for c in campaigns:
        funnel = dict.fromkeys(FUNNEL_KEYS, 0)
        funnel["enrolled"] = sum(n for (cid, _), n in enr_counts.items() if cid == c.id)
        for status in MessageStatus:
            funnel[status.value] = msg_counts.get((c.id, status.value), 0)
        for status in (
            EnrollmentStatus.REPLIED,
            EnrollmentStatus.BOUNCED,
            EnrollmentStatus.UNSUBSCRIBED,
        ):
            funnel[status.value] = enr_counts.get((c.id, status.value), 0)
        ms = [
            {
                "key": m.key,
                "title": m.title,
                "date": m.date,
                "end": m.end,
                "days_until": days_until(m.date, now, c.timezone),
                "phase": milestone_phase(m, now, c.timezone),
            }
            for m in milestones.get(c.id, [])
        ]
        out.append(CampaignStatus(c.slug, c.name, c.state, funnel, ms))
    return out


def daemon_health(session: Session) -> list[dict[str, Any]]:
    """When each daemon job last ran, on which instance, and how it ended."""
    rows = session.exec(select(JobRun).order_by(JobRun.job, JobRun.instance)).all()
    return [
        {
            "job": r.job,
            "instance": r.instance,
            "started_at": r.started_at,
            "finished_at": r.finished_at,
            "outcome": r.outcome,
            "detail": r.detail,
        }
        for r in rows
    ]


def totals(statuses: list[CampaignStatus]) -> dict[str, int]:
    total = dict.fromkeys(FUNNEL_KEYS, 0)
    for s in statuses:
        for k, v in s.funnel.items():
            total[k] += v
    return total
