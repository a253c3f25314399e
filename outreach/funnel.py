"""The funnel report behind ``outreach status``: how many contacts and messages are where,
per campaign, each campaign's milestones with days to go, and the daemon's health.

Read-only; the queries are in :mod:`outreach.repository.funnel` and
:mod:`outreach.repository.jobs`. The clock is a parameter (``now``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from outreach.countdown import days_until, milestone_phase
from outreach.db import Session
from outreach.fieldcopy import attributes
from outreach.repository import funnel as rows
from outreach.repository.jobs import job_runs
from outreach.states import EnrollmentStatus, MessageStatus

#: The enrollment states the funnel counts in their own column.
ENROLLMENT_COLUMNS = (
    EnrollmentStatus.REPLIED,
    EnrollmentStatus.BOUNCED,
    EnrollmentStatus.UNSUBSCRIBED,
)

#: Every message state, in the order the funnel shows them (the order mail flows).
MESSAGE_COLUMNS = (
    MessageStatus.PENDING_REVIEW,
    MessageStatus.RENDER_ERROR,
    MessageStatus.APPROVED,
    MessageStatus.SENDING,
    MessageStatus.SENT,
    MessageStatus.RETRYING,
    MessageStatus.FAILED,
    MessageStatus.UNKNOWN,
    MessageStatus.REJECTED,
    MessageStatus.CANCELLED,
)

#: The funnel's columns, in the order the CLI shows them.
FUNNEL_KEYS = (
    "enrolled",
    *(s.value for s in MESSAGE_COLUMNS),
    *(s.value for s in ENROLLMENT_COLUMNS),
)


class DatedMilestone(Protocol):
    """What a milestone countdown reads (a spec or a row)."""

    key: str
    title: str
    date: date
    end: date | None


@dataclass(frozen=True)
class CampaignFunnel:
    """One campaign's funnel (:data:`FUNNEL_KEYS` → count) and its milestones' countdowns."""

    slug: str
    name: str
    state: str
    funnel: dict[str, int]
    milestones: list[dict[str, Any]]


def milestone_countdown(milestone: DatedMilestone, now: datetime, tz: str) -> dict[str, Any]:
    """A milestone as ``status`` and ``campaign show`` report it: key, title, date, end, days
    until its date and its phase (``upcoming``, ``today``, ``in_progress``, ``past``) at
    ``now``, counted in ``tz``. Pure."""
    return {
        "key": milestone.key,
        "title": milestone.title,
        "date": milestone.date,
        "end": milestone.end,
        "days_until": days_until(milestone.date, now, tz),
        "phase": milestone_phase(milestone, now, tz),
    }


def funnel_counts(messages: Mapping[str, int], enrollments: Mapping[str, int]) -> dict[str, int]:
    """The funnel from one campaign's message and enrollment counts by state: every
    :data:`FUNNEL_KEYS` column, 0 when there is none. Pure."""
    funnel = dict.fromkeys(FUNNEL_KEYS, 0)
    funnel["enrolled"] = sum(enrollments.values())
    for status in MESSAGE_COLUMNS:
        funnel[status.value] = messages.get(status.value, 0)
    for status in ENROLLMENT_COLUMNS:
        funnel[status.value] = enrollments.get(status.value, 0)
    return funnel


def campaign_funnels(
    session: Session, *, now: datetime, slug: str | None = None
) -> list[CampaignFunnel]:
    """The funnel of every campaign (or one: NotFoundError when it does not exist), with its
    milestones' countdowns at ``now``, by slug."""
    campaigns = rows.campaigns(session, slug=slug)
    ids = [c.id for c in campaigns]
    messages = rows.message_counts(session, campaign_ids=ids)
    enrollments = rows.enrollment_counts(session, campaign_ids=ids)
    milestones = rows.milestones(session, campaign_ids=ids)
    return [
        CampaignFunnel(
            c.slug,
            c.name,
            c.state,
            funnel_counts(messages.get(c.id, {}), enrollments.get(c.id, {})),
            [milestone_countdown(m, now, c.timezone) for m in milestones.get(c.id, [])],
        )
        for c in campaigns
    ]


#: What the daemon's health lists of each job, as its row names it.
_JOB_FIELDS = (
    "job",
    "instance",
    "started_at",
    "finished_at",
    "outcome",
    "detail",
    "last_success_at",
    "last_duration",
)


def daemon_health(session: Session) -> list[dict[str, Any]]:
    """When each daemon job last ran, on which instance, how it ended, how long it took, and
    when it last succeeded."""
    return [attributes(r, *_JOB_FIELDS) for r in job_runs(session)]


def totals(funnels: Iterable[CampaignFunnel]) -> dict[str, int]:
    """Every funnel column summed over ``funnels``. Pure."""
    total = dict.fromkeys(FUNNEL_KEYS, 0)
    for f in funnels:
        for k, v in f.funnel.items():
            total[k] += v
    return total


#: The columns of a step's funnel, in the order the console shows them.
STEP_KEYS = (
    "planned",
    MessageStatus.PENDING_REVIEW.value,
    MessageStatus.APPROVED.value,
    MessageStatus.SENT.value,
    "replied",
    "bounced",
    "unsubscribed",
    MessageStatus.FAILED.value,
    MessageStatus.UNKNOWN.value,
)

#: Which reply classification each outcome column counts.
_REPLY_COLUMNS = {"replied": "human", "bounced": "bounce_hard", "unsubscribed": "unsubscribe"}


@dataclass(frozen=True)
class StepFunnel:
    """One step of one campaign: :data:`STEP_KEYS` → count. ``planned`` counts every letter
    of the step; the reply columns count distinct contacts who answered it that way."""

    campaign: str
    step: str
    funnel: dict[str, int]


def step_counts(messages: Mapping[str, int], replies: Mapping[str, int]) -> dict[str, int]:
    """One step's funnel from its message counts by state and reply counts by class. Pure."""
    funnel = dict.fromkeys(STEP_KEYS, 0)
    funnel["planned"] = sum(messages.values())
    for key in STEP_KEYS:
        if key in _REPLY_COLUMNS:
            funnel[key] = replies.get(_REPLY_COLUMNS[key], 0)
        elif key != "planned":
            funnel[key] = messages.get(key, 0)
    return funnel


def step_funnels(session: Session, *, slug: str | None = None) -> list[StepFunnel]:
    """The funnel of every step of every campaign (or of one), campaigns by slug, steps in
    file order."""
    campaigns = rows.campaigns(session, slug=slug)
    ids = [c.id for c in campaigns if c.id is not None]
    messages = rows.step_message_counts(session, campaign_ids=ids)
    replies = rows.step_reply_counts(session, campaign_ids=ids)
    steps = rows.steps_in_order(session, campaign_ids=ids)
    return [
        StepFunnel(
            c.slug,
            key,
            step_counts(messages.get((c.id, key), {}), replies.get((c.id, key), {})),
        )
        for c in campaigns
        if c.id is not None
        for key in steps.get(c.id, [])
    ]
