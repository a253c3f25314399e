"""Countdowns, due moments and send windows. Pure: ``now`` is always a parameter.

Every datetime returned is timezone-aware UTC. A naive datetime handed in is taken to be UTC
(as :func:`outreach.clock.ensure_utc` does). Timezone names are IANA names already validated by
the campaign and contact loaders; an unknown name raises ``zoneinfo.ZoneInfoNotFoundError``.

Local times that do not exist or exist twice (DST changes, and whole skipped days such as
Pacific/Kiritimati's 1994-12-31) are resolved by :func:`local_moment`: a nonexistent wall time
becomes the first moment after the gap (the transition itself), an ambiguous one its first
occurrence (``fold=0``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from outreach.clock import ensure_utc
from outreach.spec import (
    END_OF_DAY,
    TIMEZONE_ALIASES,
    AfterWhen,
    CampaignSpec,
    DateWhen,
    MilestoneSpec,
    MilestoneWhen,
    SendingWindow,
    StepSpec,
)

UPCOMING = "upcoming"
TODAY = "today"
IN_PROGRESS = "in_progress"
PAST = "past"

#: How far ahead :func:`next_window_opening` looks for an allowed day; a week plus room for a
#: skipped calendar day.
_SEARCH_DAYS = 16


@lru_cache(maxsize=512)
def zone(tz: str) -> ZoneInfo:
    """The :class:`ZoneInfo` for an IANA name or a known alias such as ``Europe/Geneva``
    (:data:`outreach.spec.TIMEZONE_ALIASES`); cached."""
    return ZoneInfo(TIMEZONE_ALIASES.get(tz, tz))


def local_date(moment: datetime, tz: str) -> date:
    """The calendar date in ``tz`` at ``moment``."""
    return ensure_utc(moment).astimezone(zone(tz)).date()


def send_date(moment: datetime, contact_tz: str | None, campaign_tz: str) -> date:
    """The date a letter leaving at ``moment`` is read on: the calendar date at ``moment`` in
    the recipient's timezone, the campaign's when the contact has none. A letter's countdown
    (``days_until``, ``weeks_until``, ``today``) is computed for this date; planning,
    re-planning and the send-time stale check all use this one rule (a letter that leaves
    Monday 08:30 in Hanoi is read on Monday, though it is still Sunday in New York)."""
    return local_date(moment, contact_tz or campaign_tz)


def days_until(target: date, now: datetime, tz: str) -> int:
    """Calendar days from today in ``tz`` (at ``now``) to ``target``: 0 on the day itself,
    negative once it has passed."""
    return (target - local_date(now, tz)).days


def _phase_on(milestone: MilestoneSpec, today: date) -> str:
    end = milestone.end or milestone.date
    if today < milestone.date:
        return UPCOMING
    if today > end:
        return PAST
    return TODAY if end == milestone.date else IN_PROGRESS


def milestone_phase(milestone: MilestoneSpec, now: datetime, tz: str) -> str:
    """``"upcoming"`` before the milestone's date, ``"today"`` on a one-day milestone's date,
    ``"in_progress"`` on every day date..end of a multi-day one, ``"past"`` afterwards; days
    are counted in ``tz``."""
    return _phase_on(milestone, local_date(now, tz))


def local_moment(day: date, at: time, tz: str) -> datetime:
    """The UTC moment when the wall clock in ``tz`` reads ``day`` ``at``.

    DST-safe: a wall time in a gap (spring forward, skipped day) gives the first moment after
    the gap, i.e. the transition instant; an ambiguous wall time (fall back) gives its first
    occurrence (``fold=0``).
    """
    z = zone(tz)
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=z, fold=0)
    utc = first.astimezone(UTC)
    if utc.astimezone(z).replace(tzinfo=None) == naive:
        return utc
    # In a gap: fold=1 reads the wall time with the offset after the transition (earlier UTC),
    # fold=0 with the offset before it (later UTC); the transition lies in between.
    lo = naive.replace(tzinfo=z, fold=1).astimezone(UTC)
    hi = utc
    if lo > hi:
        lo, hi = hi, lo
    return _transition_between(lo, hi, z)


def _transition_between(lo: datetime, hi: datetime, z: ZoneInfo) -> datetime:
    """The first UTC moment in (lo, hi] whose offset is the offset at ``hi``, to the second
    (zone transitions fall on whole seconds)."""
    target = hi.astimezone(z).utcoffset()
    lo_s, hi_s = int(lo.timestamp()), int(hi.timestamp())
    if datetime.fromtimestamp(lo_s, UTC).astimezone(z).utcoffset() == target:
        return datetime.fromtimestamp(lo_s, UTC)
    while hi_s - lo_s > 1:
        mid = (lo_s + hi_s) // 2
        if datetime.fromtimestamp(mid, UTC).astimezone(z).utcoffset() == target:
            hi_s = mid
        else:
            lo_s = mid
    return datetime.fromtimestamp(hi_s, UTC)


def _local_time_in(window: SendingWindow, wall: time) -> bool:
    if wall < window.start:
        return False
    return window.end == END_OF_DAY or wall < window.end


def in_window(moment: datetime, window: SendingWindow, tz: str) -> bool:
    """True when, on the wall clock in ``tz``, ``moment`` falls on one of ``window.days`` and
    ``window.start <= local time < window.end``."""
    local = ensure_utc(moment).astimezone(zone(tz))
    return local.weekday() in window.days and _local_time_in(window, local.time())


def next_window_opening(moment: datetime, window: SendingWindow, tz: str) -> datetime:
    """The first moment ``>= moment`` that is :func:`in_window` (``moment`` itself when it is
    already inside). A Saturday moment in a Mon–Fri window gives Monday's start; after the end
    of a day's window, the next allowed day's start. Exact across DST changes, including a
    fall-back hour that re-enters the window. Idempotent."""
    if not window.days:
        raise ValueError("the send window has no days")
    m = ensure_utc(moment)
    if in_window(m, window, tz):
        return m
    z = zone(tz)
    first_day = m.astimezone(z).date() - timedelta(days=1)
    best: datetime | None = None
    for offset in range(_SEARCH_DAYS):
        day = first_day + timedelta(days=offset)
        for candidate in _entry_candidates(day, window, tz, z):
            if (
                candidate >= m
                and (best is None or candidate < best)
                and in_window(candidate, window, tz)
            ):
                best = candidate
        if best is not None and local_moment(day, time(0), tz) > best + timedelta(days=1):
            break
    if best is None:  # pragma: no cover - only with a broken tz database
        raise ValueError(f"no send window opening within {_SEARCH_DAYS} days of {m.isoformat()}")
    return best


def _entry_candidates(day: date, window: SendingWindow, tz: str, z: ZoneInfo) -> Iterable[datetime]:
    """Moments on local ``day`` where the window may be entered: the start wall time (both
    occurrences when ambiguous, the gap's end when skipped) and any offset transition."""
    naive = datetime.combine(day, window.start)
    yield local_moment(day, window.start, tz)
    second = naive.replace(tzinfo=z, fold=1).astimezone(UTC)
    if second.astimezone(z).replace(tzinfo=None) == naive:
        yield second
    day_lo = local_moment(day, time(0), tz)
    day_hi = local_moment(day + timedelta(days=1), time(0), tz)
    if (
        day_lo.astimezone(z).utcoffset()
        != (day_hi - timedelta(seconds=1)).astimezone(z).utcoffset()
    ):
        yield _transition_between(day_lo, day_hi - timedelta(seconds=1), z)


def step_due(
    step: StepSpec, campaign: CampaignSpec, *, previous_sent_at: datetime | None
) -> datetime | None:
    """The nominal moment (UTC) ``step`` falls due, before any send-window adjustment.

    Milestone steps: the milestone's date minus ``days_before`` at ``at`` (default the campaign
    window's start), campaign-local. Date steps: their local date-time in the campaign's
    timezone. Follow-ups (``after``): ``previous_sent_at`` + ``days`` × 24 h, or ``None`` when
    the previous step has not been sent to this contact.
    """
    when = step.when
    if isinstance(when, MilestoneWhen):
        milestone = campaign.milestone(when.milestone)
        day = milestone.date - timedelta(days=when.days_before)
        return local_moment(day, when.at or campaign.sending.start, campaign.timezone)
    if isinstance(when, DateWhen):
        return local_moment(when.at.date(), when.at.time(), campaign.timezone)
    if isinstance(when, AfterWhen):
        if previous_sent_at is None:
            return None
        return ensure_utc(previous_sent_at) + timedelta(days=when.days)
    raise TypeError(f"unknown when form: {when!r}")


def scheduled_send(
    step: StepSpec,
    campaign: CampaignSpec,
    contact_tz: str | None,
    *,
    previous_sent_at: datetime | None,
) -> datetime | None:
    """When ``step`` should go to a contact: :func:`step_due`, moved to the first moment of the
    campaign's send window in the contact's timezone (the campaign's when ``contact_tz`` is
    ``None`` or empty). ``None`` when not due yet (an unsent previous step)."""
    due = step_due(step, campaign, previous_sent_at=previous_sent_at)
    if due is None:
        return None
    return next_window_opening(due, campaign.sending, contact_tz or campaign.timezone)


def within_lookahead(due: datetime, now: datetime, lookahead_days: int, tz: str) -> bool:
    """True when ``due`` falls on or before the date ``lookahead_days`` after today, both dates
    taken in ``tz`` (the campaign's): what a planner at ``now`` should queue."""
    return local_date(due, tz) <= local_date(now, tz) + timedelta(days=lookahead_days)


def countdown_values(milestones: Iterable[MilestoneSpec], today: date) -> dict[str, dict[str, Any]]:
    """Template context per milestone key, counted from ``today`` (the date the letter is
    read on, :func:`send_date`): ``key, title, date, end, location, days_until`` (0 on the date,
    negative after), ``weeks_until`` (whole weeks, truncated toward zero), ``is_past`` (after
    the last day), ``is_today``, ``phase`` (as :func:`milestone_phase`) and ``days_since``
    (``-days_until``)."""
    out: dict[str, dict[str, Any]] = {}
    for m in milestones:
        days = (m.date - today).days
        phase = _phase_on(m, today)
        out[m.key] = {
            "key": m.key,
            "title": m.title,
            "date": m.date,
            "end": m.end,
            "location": m.location,
            "days_until": days,
            "weeks_until": days // 7 if days >= 0 else -(-days // 7),
            "days_since": -days,
            "is_past": phase == PAST,
            "is_today": phase in (TODAY, IN_PROGRESS),
            "phase": phase,
        }
    return out
