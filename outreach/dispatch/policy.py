"""Dispatch policy: send windows, daily limits, which due messages to claim (and when the
others will next be tried, and why), claim sizes, the rate limiter and what an attempt's
verdict means for its row. Pure.

No database, no SMTP, no clock: ``now`` is a parameter, and the rate limiter is given monotonic
time by its caller. :mod:`outreach.dispatch.claims` loads the rows these functions decide over.

Decisions worth knowing:

* A due message outside its recipient's window (the contact's timezone, else the campaign's) is
  not claimed; its ``due_at`` moves to the window's next opening so it does not clog the head
  of the queue, and its status does not change.
* The daily limit counts ``sent`` today (campaign timezone) plus everything ``sending``; a
  message over it waits for the next day's first window opening.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Protocol

from outreach.countdown import in_window, local_date, local_moment, next_window_opening
from outreach.dispatch.values import Claim, Outcome, OutcomeKind, Ready
from outreach.retry import RetryDecision
from outreach.spec import END_OF_DAY, WEEKDAYS, SendingWindow
from outreach.states import CLAIMABLE, AttemptPhase, CampaignState, MessageStatus

# ------------------------------------------------------------------------------------------
# Campaign sending rules


def window_from_json(data: Mapping[str, Any] | None) -> SendingWindow:
    """The :class:`SendingWindow` stored in ``campaign.sending`` (days as 0=Mon… or names,
    ``"HH:MM"`` times, ``"24:00"`` = to midnight); missing keys take the defaults."""
    default = SendingWindow()
    if not data:
        return default
    days = data.get("days")
    day_set = (
        frozenset(WEEKDAYS[d.lower()] if isinstance(d, str) else int(d) for d in days)
        if days
        else default.days
    )
    return SendingWindow(
        days=day_set,
        start=_clock_time(data.get("start"), default.start),
        end=_clock_time(data.get("end"), default.end),
        daily_limit=data.get("daily_limit"),
    )


def _clock_time(value: Any, fallback: time) -> time:
    if value is None:
        return fallback
    if isinstance(value, time):
        return value
    if str(value).startswith("24:00"):
        return END_OF_DAY
    return time.fromisoformat(str(value))


@dataclass(frozen=True)
class CampaignInfo:
    """What dispatch knows of a campaign: its timezone, send window (with the daily limit) and
    state."""

    id: int
    slug: str
    timezone: str
    window: SendingWindow
    state: str

    @property
    def active(self) -> bool:
        return self.state == CampaignState.ACTIVE.value


def day_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """Today in ``tz`` at ``now``, as the UTC moments of its midnight and the next one."""
    today = local_date(now, tz)
    return local_moment(today, time(0), tz), local_moment(today + timedelta(days=1), time(0), tz)


def daily_remaining(limit: int | None, counted: int) -> int | None:
    """How many more a campaign may send today (``None``: no daily limit)."""
    if limit is None:
        return None
    return max(0, int(limit) - int(counted))


# ------------------------------------------------------------------------------------------
# Which due messages to claim


class DueMessage(Protocol):
    """A claimable message due now (:class:`outreach.repository.outbox.DueRow`)."""

    @property
    def id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def campaign_id(self) -> int: ...
    @property
    def contact_timezone(self) -> str | None: ...


@dataclass(frozen=True)
class Selection:
    """:func:`select_claimable`'s verdict: ``chosen`` ``(id, status)`` to claim, in due order;
    ``bumps`` ``(id, status, new due_at)`` to wait for their window; ``scanned`` rows looked at;
    ``skipped`` counts by reason."""

    chosen: tuple[tuple[int, str], ...]
    bumps: tuple[tuple[int, str, datetime], ...]
    scanned: int
    skipped: Mapping[str, int]


def select_claimable(
    rows: Iterable[DueMessage],
    *,
    campaigns: Mapping[int, CampaignInfo],
    remaining: Mapping[int, int | None],
    now: datetime,
    skipped: Mapping[str, int] | None = None,
) -> Selection:
    """Of the due ``rows`` (of active ``campaigns``), those inside their recipient's window and
    under their campaign's daily ``remaining`` allowance; the others get a new ``due_at``: the
    window's next opening, or the next day's when the daily limit is reached."""
    left = dict(remaining)
    counts: Counter[str] = Counter(skipped or {})
    chosen: list[tuple[int, str]] = []
    bumps: list[tuple[int, str, datetime]] = []
    scanned = 0
    for row in rows:
        scanned += 1
        info = campaigns[row.campaign_id]
        tz = row.contact_timezone or info.timezone
        if not in_window(now, info.window, tz):
            counts["outside send window"] += 1
            bumps.append((row.id, row.status, next_window_opening(now, info.window, tz)))
            continue
        allowance = left[row.campaign_id]
        if allowance is not None:
            if allowance <= 0:
                counts["daily limit reached"] += 1
                tomorrow = local_date(now, info.timezone) + timedelta(days=1)
                start = local_moment(tomorrow, time(0), info.timezone)
                bumps.append((row.id, row.status, next_window_opening(start, info.window, tz)))
                continue
            left[row.campaign_id] = allowance - 1
        chosen.append((row.id, row.status))
    return Selection(tuple(chosen), tuple(bumps), scanned, dict(counts))


# ------------------------------------------------------------------------------------------
# When a message will next be tried, and why it waits


class WaitingMessage(Protocol):
    """What :func:`next_try` reads of a message (:class:`outreach.repository.outbox.WaitRow`)."""

    @property
    def status(self) -> str: ...
    @property
    def due_at(self) -> datetime: ...
    @property
    def scheduled_for(self) -> datetime: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...
    @property
    def contact_timezone(self) -> str | None: ...
    @property
    def last_reply(self) -> str | None: ...


@dataclass(frozen=True)
class Wait:
    """When dispatch will next try a message (``at``; ``None``: not until a person acts — a
    review, a paused campaign) and why it waits until then (``reason``; "due now" when it
    does not wait)."""

    at: datetime | None
    reason: str


def describe_window(window: SendingWindow, tz: str) -> str:
    """``Mon–Fri 09:00–17:00 Asia/Tokyo``: a send window in words."""
    names = [name.title() for name, number in WEEKDAYS.items() if number in window.days]
    numbers = sorted(window.days)
    if len(numbers) == 7:
        days = "every day"
    elif len(numbers) > 2 and numbers == list(range(numbers[0], numbers[-1] + 1)):
        days = f"{names[0]}–{names[-1]}"
    else:
        days = ", ".join(names)
    end = "24:00" if window.end == END_OF_DAY else f"{window.end:%H:%M}"
    return f"{days} {window.start:%H:%M}–{end} {tz}"


def next_try(
    message: WaitingMessage, info: CampaignInfo, *, remaining: int | None, now: datetime
) -> Wait | None:
    """When dispatch will next try ``message`` and why it waits, read forward from the rules
    :func:`select_claimable` and the retry policy apply: its campaign paused, a retry's
    backoff, its scheduled time, its recipient's send window, its campaign's daily limit
    (``remaining`` today; ``None``: no limit). A letter waiting for review waits for a person;
    ``None`` for a message dispatch will not try again (sent, failed, rejected, unknown …)."""
    if message.status == MessageStatus.PENDING_REVIEW.value:
        return Wait(None, "waiting for review")
    if message.status not in {s.value for s in CLAIMABLE}:
        return None
    if not info.active:
        return Wait(None, "campaign paused (outreach campaign resume)")
    tz = message.contact_timezone or info.timezone
    at = next_window_opening(max(now, message.due_at), info.window, tz)
    today = local_date(now, info.timezone)
    if remaining == 0 and local_date(at, info.timezone) == today:
        tomorrow = local_moment(today + timedelta(days=1), time(0), info.timezone)
        at = next_window_opening(tomorrow, info.window, tz)
    return Wait(at, _wait_reason(message, info, tz, remaining=remaining, now=now))


def _wait_reason(
    message: WaitingMessage, info: CampaignInfo, tz: str, *, remaining: int | None, now: datetime
) -> str:
    """Why a claimable ``message`` of an active campaign is not sent at ``now``."""
    limit = f"daily limit reached ({info.window.daily_limit} a day)"
    window = f"outside the send window ({describe_window(info.window, tz)})"
    backoff = message.next_attempt_at
    if message.status == MessageStatus.RETRYING.value and backoff is not None and backoff > now:
        return f"retry backoff after: {message.last_reply or 'a failed attempt'}"
    if message.due_at <= now:
        if not in_window(now, info.window, tz):
            return window
        return limit if remaining == 0 else "due now"
    if message.due_at == message.scheduled_for:
        return "scheduled"
    opening = in_window(message.due_at, info.window, tz) and not in_window(
        message.due_at - timedelta(seconds=1), info.window, tz
    )
    if remaining == 0 or (opening and in_window(now, info.window, tz)):
        return limit  # moved to a later opening while the window is open: the daily limit
    return window if opening else "held back after the SMTP server was unavailable"


# ------------------------------------------------------------------------------------------
# Claim sizes and rate


@dataclass(frozen=True)
class ClaimSizes:
    """How many rows one claim takes at most (``batch``), and below how many claimed,
    not yet started messages the next claim is made (``low``)."""

    batch: int
    low: int


def claim_sizes(
    *, batch: int, concurrency: int, rate_per_minute: int | None, lease_seconds: int
) -> ClaimSizes:
    """Keep at most ``batch`` (``dispatch_batch``) claimed messages waiting for a connection,
    topped up when fewer than half of them (and at least one per connection) are left: the
    claim's send-time checks stay a fraction of a second old at full speed. Under a rate
    limit, never more than ten seconds' worth at that rate, nor half a lease's worth."""
    if rate_per_minute:
        size = max(1, min(batch, rate_per_minute * lease_seconds // 120, rate_per_minute // 6))
        return ClaimSizes(size, max(1, size // 2))
    return ClaimSizes(batch, max(1, min(batch, max(concurrency, batch // 2))))


class TokenBucket:
    """A rate limiter over injected monotonic time: ``rate_per_minute`` tokens a minute, bursts
    up to ``capacity``. :meth:`reserve` always takes a token and says how long to wait before
    using it (tokens may go negative, so concurrent callers queue up fairly)."""

    def __init__(self, rate_per_minute: float, *, capacity: float | None = None) -> None:
        if rate_per_minute <= 0:
            raise ValueError("rate_per_minute must be positive")
        self.rate = rate_per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(1.0, math.floor(self.rate))
        self.tokens = self.capacity
        self.last: float | None = None

    def reserve(self, now: float) -> float:
        """Take one token at monotonic time ``now``; return the seconds to wait (0: go)."""
        if self.last is not None and now > self.last:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        if self.last is None or now > self.last:
            self.last = now
        self.tokens -= 1.0
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate


# ------------------------------------------------------------------------------------------
# What an attempt's verdict means for its row


def attempt_outcome(
    item: Ready,
    decision: RetryDecision,
    *,
    code: int | None,
    text: str,
    stage: str,
    at: datetime,
) -> Outcome:
    """The :class:`Outcome` to record for a reply (or a network error: ``code is None``) at
    ``stage``: ``sent``, ``retrying`` (a retry or a server backoff) or ``failed``; the phase
    says how far the attempt got."""
    if code is not None:
        phase = AttemptPhase.DONE.value
    elif stage == "data":
        phase = AttemptPhase.DATA_SENT.value
    else:
        phase = AttemptPhase.CONNECTING.value
    if decision.outcome == "sent":
        kind: OutcomeKind = "sent"
    elif decision.outcome in ("retry", "server_backoff"):
        kind = "retrying"
    else:
        kind = "failed"
    return Outcome(
        item.claim,
        kind,
        at,
        phase,
        code=code,
        response=" ".join((text or "").split()) or None,
        next_attempt_at=decision.next_attempt_at,
        bounce=decision.bounce,
        envelope_to=item.envelope_to,
        reason=decision.reason,
    )


def released_outcome(
    claim: Claim, *, at: datetime, reason: str, due_at: datetime | None = None
) -> Outcome:
    """A claim given back without any SMTP traffic (its attempt is not charged); ``due_at``
    moves it to that moment when set."""
    return Outcome(
        claim, "released", at, AttemptPhase.CLAIMED.value, next_attempt_at=due_at, reason=reason
    )


def lost_during_data(claim: Claim, *, at: datetime, error: str) -> Outcome:
    """The connection dropped (or timed out) during DATA: the server may have accepted the
    message, so it becomes ``unknown`` (never resent silently, DESIGN.md rule 2)."""
    return Outcome(
        claim,
        "unknown",
        at,
        AttemptPhase.DATA_SENT.value,
        response=error,
        reason=f"connection lost during DATA ({error}); it may have been delivered",
    )
