"""The console's dashboard as one read: every campaign with its milestones' countdowns and
funnel, the funnel per step, what leaves next (in campaign and recipient time), what needs a
person, and the daemon's health. Read-only; ``now`` is a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.funnel import (
    CampaignFunnel,
    StepFunnel,
    campaign_funnels,
    daemon_health,
    step_funnels,
    totals,
)
from outreach.repository.review import count_stale
from outreach.review.views import ReviewItem, list_upcoming
from outreach.states import MessageStatus


@dataclass(frozen=True)
class Attention:
    """How many messages need a person, by kind."""

    unknown: int  #: a dispatcher died after DATA: resolve as sent or retry
    render_error: int  #: the template failed: fix it; planning renders again
    #: sent back to review for another day and not yet rendered again: approval is refused
    #: until planning renders it (or a reviewer edits it)
    stale: int
    failed: int  #: 5xx or retries exhausted: requeue or cancel

    @property
    def total(self) -> int:
        return self.unknown + self.render_error + self.stale + self.failed


@dataclass(frozen=True)
class Overview:
    """Everything the dashboard shows."""

    now: datetime
    campaigns: list[CampaignFunnel]
    steps: list[StepFunnel]
    upcoming: list[ReviewItem]
    attention: Attention
    daemon: list[dict[str, Any]]


def overview(session: Session, *, now: datetime, upcoming: int = 10) -> Overview:
    """The dashboard at ``now``; ``upcoming``: how many of the next departures to list."""
    campaigns = campaign_funnels(session, now=now)
    total = totals(campaigns)
    attention = Attention(
        unknown=total[MessageStatus.UNKNOWN.value],
        render_error=total[MessageStatus.RENDER_ERROR.value],
        stale=count_stale(session),
        failed=total[MessageStatus.FAILED.value],
    )
    return Overview(
        now=now,
        campaigns=campaigns,
        steps=step_funnels(session),
        upcoming=list_upcoming(session, limit=upcoming),
        attention=attention,
        daemon=daemon_health(session),
    )
