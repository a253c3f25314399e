"""Dispatch: claim due approved mail under a lease, check it again, send its stored bytes over
SMTP, record how each attempt ended (DESIGN.md rules 1, 2, 3 and 5).

The flow, per :meth:`Dispatcher.run_once`:

1. :func:`sweep_expired` — leases that ran out: a row that never reached DATA goes back to
   ``approved``; one whose DATA may have gone out becomes ``unknown`` (never resent by itself).
2. :func:`claim_due` — one transaction: due ``approved``/``retrying`` rows of active campaigns,
   inside the recipient's send window, under the campaign's daily limit, move to ``sending``
   with a fresh lease token (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the whole
   transaction is ``BEGIN IMMEDIATE``, i.e. the single writer, and the update is a
   compare-and-set on the status). Committed before any SMTP traffic.
3. :func:`prepare_chunk` — just before a connection's chunk is sent (while its previous chunk
   is on the wire; at most :func:`chunk_limit` rows), one transaction re-reads the rows
   and checks them again: still ours (lease token)? campaign still active? address suppressed?
   enrollment replied/bounced/unsubscribed? stored bytes still the approved bytes? rendered for
   another day and a re-render differs (``stale_check``)? Failures move to the right state; the
   rows that pass are recorded ``data_sent`` (and their lease extended) **before** any of their
   MAIL/RCPT/DATA is sent, so a crash can only leave them ``unknown``, never resent.
4. SMTP with aiosmtplib: ``SMTP_CONCURRENCY`` workers, one reused connection each, a shared
   token bucket for ``SMTP_RATE_PER_MINUTE``, TLS mode set explicitly.
5. :func:`record_outcomes` — batched, every update guarded by the lease token: a dispatcher that
   lost its lease changes nothing.

One database thread does all of it; its rounds (:func:`record_and_prepare`) write every outcome
pending so far and check every chunk the connections asked for since the last round, in one
transaction, so its work per message shrinks as the load grows.

Decisions worth knowing:

* ``attempts`` counts claims that may have reached the server; a claim released without SMTP
  traffic (shutdown, auth failure, server down, paused campaign, window) gives its attempt back.
* A connection-level failure (refused, timeout, a 4xx/5xx greeting, 421 at any stage) charges
  the one message that was being tried (``retrying`` with the server's backoff); every other
  message of the run is released to ``approved`` with ``due_at`` pushed to the same moment, and
  the dispatcher claims nothing more until then.
* A connection lost (or a timeout) *during* DATA makes the message ``unknown``: the server may
  have accepted it, and rule 2 forbids a silent resend.
* Windows: a due message outside its recipient's window is not claimed; its ``due_at`` is moved
  to the window's next opening (and to the next day's opening when the campaign's daily limit is
  reached) so it does not clog the head of the queue. Its status does not change.
* Nothing here reads the clock: ``now`` is a parameter, the :class:`Dispatcher` reads its clock
  once per claim batch and per recorded outcome. Only the rate limiter uses monotonic time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import random
import secrets
import socket
import ssl
import time as _time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any, Literal, TypeVar

import aiosmtplib
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from outreach.clock import Clock
from outreach.countdown import in_window, local_date, local_moment, next_window_opening
from outreach.db import is_postgres, session_scope
from outreach.errors import (
    DispatchError,
    NotFoundError,
    OutreachError,
    SmtpAuthError,
    SmtpTlsError,
)
from outreach.lifecycle import (
    OwnedMove,
    set_enrollment_status,
    transition,
    transition_many,
    transition_owned,
)
from outreach.models import Attempt, Campaign, Contact, Enrollment, Message, Suppression
from outreach.retry import RetryDecision, decide, describe
from outreach.review import content_ok
from outreach.settings import Settings
from outreach.spec import END_OF_DAY, SendingWindow
from outreach.states import (
    AttemptPhase,
    CampaignState,
    EnrollmentStatus,
    MessageStatus,
)

T = TypeVar("T")
StaleCheck = Callable[[Session, Message, date], "str | None"]
OutcomeKind = Literal["sent", "retrying", "failed", "unknown", "released"]

_M = MessageStatus
#: Outcomes are written when this many are pending, or after FLUSH_SECONDS (or sooner, with the
#: next chunks' checks).
FLUSH_EVERY = 200
FLUSH_SECONDS = 0.1
#: Most rows one connection's chunk holds: checked and marked ``data_sent`` together, while the
#: connection's previous chunk is being sent (see :func:`chunk_limit`).
CHUNK = 50
_STOPPED_ENROLLMENT = frozenset(
    {EnrollmentStatus.REPLIED, EnrollmentStatus.BOUNCED, EnrollmentStatus.UNSUBSCRIBED}
)
_MT = Message.__table__  # type: ignore[attr-defined]
_AT = Attempt.__table__  # type: ignore[attr-defined]


class PlainAuthRefused(DispatchError):
    """Refusing to send SMTP credentials over an unencrypted connection (OUTREACH_SMTP_TLS=none);
    set OUTREACH_SMTP_ALLOW_PLAIN_AUTH=true to allow it."""


class QueueError(OutreachError):
    """The queue operation was refused."""


# ------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class Claim:
    """One message this dispatcher holds under ``lease_token``; ``attempt`` is its number."""

    message_id: int
    lease_token: str
    campaign_id: int
    contact_id: int
    attempt: int
    first_attempt_at: datetime


@dataclass(frozen=True)
class ClaimBatch:
    """What :func:`claim_due` did: the claims, how many due rows it looked at, and why the
    others were left (``{"outside send window": 3, "daily limit": 1}``)."""

    claims: tuple[Claim, ...]
    scanned: int
    skipped: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Ready:
    """A claimed message that passed its send-time checks: the exact bytes to send."""

    claim: Claim
    raw: bytes
    envelope_from: str
    envelope_to: str


@dataclass(frozen=True)
class PreparedChunk:
    """:func:`prepare_chunk`'s result: the sendable rows and what happened to the others
    (``cancelled``, ``stale``, ``released``, ``lost_lease``)."""

    ready: tuple[Ready, ...]
    counts: Mapping[str, int]


@dataclass(frozen=True)
class Outcome:
    """How one attempt ended, to be written by :func:`record_outcomes`.

    ``released``: never reached the server (attempt given back; ``due_at`` moves to
    ``due_at`` when set). ``phase`` is how far the attempt got.
    """

    claim: Claim
    kind: OutcomeKind
    at: datetime
    phase: str
    code: int | None = None
    response: str | None = None
    next_attempt_at: datetime | None = None
    bounce: bool = False
    envelope_to: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class SweepCounts:
    """Expired leases found by :func:`sweep_expired`: back to ``approved`` / now ``unknown``."""

    released: int = 0
    unknown: int = 0


@dataclass(frozen=True)
class DispatchSummary:
    """What one :meth:`Dispatcher.run_once` did. ``skipped_reasons`` counts due messages not
    claimed or not sent and why; ``lost_lease`` counts rows another process took over."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0
    stale: int = 0
    released: int = 0
    unknown: int = 0
    lost_lease: int = 0
    swept_released: int = 0
    swept_unknown: int = 0
    skipped_reasons: Mapping[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "retrying": self.retrying,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "stale": self.stale,
            "released": self.released,
            "unknown": self.unknown,
            "lost_lease": self.lost_lease,
            "swept_released": self.swept_released,
            "swept_unknown": self.swept_unknown,
            "skipped": dict(self.skipped_reasons),
        }


@dataclass(frozen=True)
class DuePreview:
    """One message ``outreach send --dry-run`` would send now."""

    id: int
    campaign: str
    to: str
    subject: str
    scheduled_for: datetime
    status: str


# ------------------------------------------------------------------------------------------
# Pure helpers


def window_from_json(data: Mapping[str, Any] | None) -> SendingWindow:
    """The :class:`SendingWindow` stored in ``campaign.sending`` (days as 0=Mon… or names,
    ``"HH:MM"`` times, ``"24:00"`` = to midnight); missing keys take the defaults."""
    default = SendingWindow()
    if not data:
        return default
    names = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
    days = data.get("days")
    day_set = (
        frozenset(names[d.lower()] if isinstance(d, str) else int(d) for d in days)
        if days
        else default.days
    )

    def _time(value: Any, fallback: time) -> time:
        if value is None:
            return fallback
        if isinstance(value, time):
            return value
        if str(value).startswith("24:00"):
            return END_OF_DAY
        return time.fromisoformat(str(value))

    return SendingWindow(
        days=day_set,
        start=_time(data.get("start"), default.start),
        end=_time(data.get("end"), default.end),
        daily_limit=data.get("daily_limit"),
    )


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
# Database operations (sync; the caller owns the transaction)


def chunk_limit(batch: int, concurrency: int) -> int:
    """Rows per chunk: each connection holds at most two chunks recorded ``data_sent`` (the one
    being sent and the next), so one process never has more than ``batch`` (``dispatch_batch``)
    rows past their send-time checks and not yet sent — what a pause or a suppression cannot
    stop any more, and what a crash can leave ``unknown``."""
    return max(1, min(CHUNK, batch // (2 * concurrency)))


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _release_exprs() -> dict[str, Any]:
    """Give a never-tried attempt back."""
    return {
        "attempts": sa.case((_MT.c.attempts > 0, _MT.c.attempts - 1), else_=0),
        "first_attempt_at": sa.case((_MT.c.attempts <= 1, sa.null()), else_=_MT.c.first_attempt_at),
    }


_LEASE_CLEARED = {"lease_token": None, "lease_expires_at": None}


def sweep_expired(session: Session, *, now: datetime, actor: str = "sweeper") -> SweepCounts:
    """Expired leases (``sending`` and ``lease_expires_at < now``): a row whose attempt never
    reached DATA (phase ``claimed``/``connecting``) goes back to ``approved`` with its attempt
    given back; one recorded ``data_sent`` becomes ``unknown`` (an operator resolves it)."""
    query = sa.select(_MT.c.id, _MT.c.lease_token, _MT.c.attempt_phase).where(
        _MT.c.status == _M.SENDING.value, _MT.c.lease_expires_at < now
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    rows = session.execute(query).all()
    if not rows:
        return SweepCounts()
    attempt_done = {"finished_at": now, "outcome": "expired"}
    unknown = [
        OwnedMove(
            r[0],
            r[1],
            {**_LEASE_CLEARED},
            reason="lease expired after DATA may have been sent; resolve with "
            "`outreach queue resolve`",
            attempt=attempt_done,
        )
        for r in rows
        if r[2] == AttemptPhase.DATA_SENT.value
    ]
    back = [
        OwnedMove(
            r[0],
            r[1],
            {**_LEASE_CLEARED, "lease_owner": None, "attempt_phase": None},
            reason=f"lease expired before DATA (phase {r[2]})",
            attempt=attempt_done,
        )
        for r in rows
        if r[2] != AttemptPhase.DATA_SENT.value
    ]
    moved_unknown = transition_owned(
        session, unknown, to=_M.UNKNOWN, now=now, actor=actor, action="lease_expired"
    )
    moved_back = transition_owned(
        session,
        back,
        to=_M.APPROVED,
        now=now,
        actor=actor,
        action="lease_expired",
        exprs=_release_exprs(),
    )
    return SweepCounts(released=len(moved_back), unknown=len(moved_unknown))


@dataclass(frozen=True)
class _CampaignInfo:
    id: int
    slug: str
    timezone: str
    window: SendingWindow
    state: str


def _campaigns(
    session: Session, *, slug: str | None = None, ids: Iterable[int] | None = None
) -> dict[int, _CampaignInfo]:
    query = sa.select(
        Campaign.id, Campaign.slug, Campaign.timezone, Campaign.sending, Campaign.state
    )
    if slug is not None:
        query = query.where(Campaign.slug == slug)
    if ids is not None:
        query = query.where(Campaign.id.in_(list(ids)))
    return {
        row[0]: _CampaignInfo(row[0], row[1], row[2], window_from_json(row[3]), row[4])
        for row in session.execute(query)
    }


def _daily_remaining(session: Session, info: _CampaignInfo, now: datetime) -> int | None:
    limit = info.window.daily_limit
    if limit is None:
        return None
    today = local_date(now, info.timezone)
    lo = local_moment(today, time(0), info.timezone)
    hi = local_moment(today + timedelta(days=1), time(0), info.timezone)
    count = session.execute(
        sa.select(sa.func.count())
        .select_from(_MT)
        .where(
            _MT.c.campaign_id == info.id,
            sa.or_(
                sa.and_(_MT.c.status == _M.SENT.value, _MT.c.sent_at >= lo, _MT.c.sent_at < hi),
                _MT.c.status == _M.SENDING.value,
            ),
        )
    ).scalar_one()
    return max(0, int(limit) - int(count))


@dataclass(frozen=True)
class _Selection:
    chosen: tuple[tuple[int, str], ...]  # (id, status)
    bumps: tuple[tuple[int, str, datetime], ...]  # (id, status, new due_at)
    scanned: int
    skipped: Mapping[str, int]


def _select_due(
    session: Session,
    *,
    now: datetime,
    limit: int,
    campaign: str | None,
    lock: bool,
) -> _Selection:
    """The due rows to claim, in due order, with window and daily-limit filtering."""
    campaigns = _campaigns(session, slug=campaign)
    active = {cid: c for cid, c in campaigns.items() if c.state == CampaignState.ACTIVE.value}
    remaining = {cid: _daily_remaining(session, c, now) for cid, c in active.items()}
    skipped: Counter[str] = Counter()
    at_limit = [cid for cid, left in remaining.items() if left == 0]
    eligible = [cid for cid in active if cid not in at_limit]
    if at_limit:
        skipped["daily limit reached"] += session.execute(
            sa.select(sa.func.count())
            .select_from(_MT)
            .where(
                _MT.c.campaign_id.in_(at_limit),
                _MT.c.status.in_([s.value for s in (_M.APPROVED, _M.RETRYING)]),
                _MT.c.due_at <= now,
            )
        ).scalar_one()
    if not eligible:
        return _Selection((), (), 0, dict(skipped))
    query = (
        sa.select(_MT.c.id, _MT.c.status, _MT.c.campaign_id, Contact.timezone)
        .join(Contact, Contact.id == _MT.c.contact_id)
        .where(
            _MT.c.status.in_([_M.APPROVED.value, _M.RETRYING.value]),
            _MT.c.due_at <= now,
            _MT.c.campaign_id.in_(eligible),
        )
        .order_by(_MT.c.due_at, _MT.c.id)
        .limit(limit)
    )
    if lock and is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=_MT)
    rows = session.execute(query).all()
    chosen: list[tuple[int, str]] = []
    bumps: list[tuple[int, str, datetime]] = []
    for mid, status, cid, contact_tz in rows:
        info = active[cid]
        tz = contact_tz or info.timezone
        if not in_window(now, info.window, tz):
            skipped["outside send window"] += 1
            bumps.append((mid, status, next_window_opening(now, info.window, tz)))
            continue
        left = remaining[cid]
        if left is not None:
            if left <= 0:
                skipped["daily limit reached"] += 1
                tomorrow = local_date(now, info.timezone) + timedelta(days=1)
                start = local_moment(tomorrow, time(0), info.timezone)
                bumps.append((mid, status, next_window_opening(start, info.window, tz)))
                continue
            remaining[cid] = left - 1
        chosen.append((mid, status))
    return _Selection(tuple(chosen), tuple(bumps), len(rows), dict(skipped))


def claim_due(
    session: Session,
    *,
    now: datetime,
    owner: str,
    limit: int,
    lease_seconds: int,
    campaign: str | None = None,
) -> ClaimBatch:
    """Claim up to ``limit`` due messages for ``owner``: ``approved``/``retrying``, ``due_at <=
    now``, active campaign (paused ones are never claimed), inside the recipient's send window
    (contact timezone, else the campaign's), under the campaign's daily limit (``sent`` today in
    the campaign's timezone plus ``sending``).

    Each claimed row becomes ``sending`` with ``lease_owner``, one fresh ``lease_token`` for the
    batch, ``lease_expires_at = now + lease_seconds``, phase ``claimed``, ``attempts + 1``, and
    gets an :class:`Attempt` row and an event. Due rows outside their window get ``due_at``
    moved to its next opening. The caller must commit before any SMTP traffic.
    """
    sel = _select_due(session, now=now, limit=limit, campaign=campaign, lock=True)
    for status in (_M.APPROVED.value, _M.RETRYING.value):
        group = [(mid, due) for mid, st, due in sel.bumps if st == status]
        if group:
            session.execute(
                sa.update(_MT)
                .where(_MT.c.id == sa.bindparam("w_id"), _MT.c.status == status)
                .values(due_at=sa.bindparam("v_due", type_=_MT.c.due_at.type)),
                [{"w_id": mid, "v_due": due} for mid, due in group],
            )
    if not sel.chosen:
        return ClaimBatch((), sel.scanned, sel.skipped)
    token = secrets.token_hex(16)
    moved: list[int] = []
    for status in (_M.APPROVED, _M.RETRYING):
        ids = [mid for mid, st in sel.chosen if st == status.value]
        moved += transition_many(
            session,
            ids,
            current=status,
            to=_M.SENDING,
            now=now,
            actor=owner,
            action="claimed",
            lease_owner=owner,
            lease_token=token,
            lease_expires_at=now + timedelta(seconds=lease_seconds),
            attempt_phase=AttemptPhase.CLAIMED.value,
            attempts=_MT.c.attempts + 1,
            first_attempt_at=sa.func.coalesce(
                _MT.c.first_attempt_at, sa.literal(now, type_=_MT.c.first_attempt_at.type)
            ),
        )
    claims: list[Claim] = []
    for chunk in _chunks(sorted(moved), 500):
        for mid, cid, kid, attempts, first in session.execute(
            sa.select(
                _MT.c.id,
                _MT.c.campaign_id,
                _MT.c.contact_id,
                _MT.c.attempts,
                _MT.c.first_attempt_at,
            ).where(_MT.c.id.in_(chunk), _MT.c.lease_token == token)
        ):
            claims.append(Claim(mid, token, cid, kid, attempts, first or now))
    if claims:
        session.execute(
            sa.insert(Attempt),
            [
                {
                    "message_id": c.message_id,
                    "number": c.attempt,
                    "lease_token": token,
                    "started_at": now,
                    "phase": AttemptPhase.CLAIMED.value,
                }
                for c in claims
            ],
        )
    return ClaimBatch(tuple(claims), sel.scanned, sel.skipped)


def preview_due(
    session: Session, *, now: datetime, limit: int | None = None, campaign: str | None = None
) -> tuple[list[DuePreview], dict[str, int]]:
    """What :func:`claim_due` would claim now, changing nothing (``send --dry-run``), and why
    other due messages would be left."""
    sel = _select_due(session, now=now, limit=limit or 1_000_000, campaign=campaign, lock=False)
    ids = [mid for mid, _ in sel.chosen]
    out: list[DuePreview] = []
    for chunk in _chunks(ids, 500):
        rows = session.execute(
            sa.select(
                _MT.c.id,
                Campaign.slug,
                _MT.c.envelope_to,
                _MT.c.subject,
                _MT.c.scheduled_for,
                _MT.c.status,
            )
            .join(Campaign, Campaign.id == _MT.c.campaign_id)
            .where(_MT.c.id.in_(chunk))
        ).all()
        by_id = {r[0]: r for r in rows}
        for mid in chunk:
            r = by_id[mid]
            out.append(DuePreview(r[0], r[1], r[2] or "", r[3] or "", r[4], r[5]))
    return out, dict(sel.skipped)


def prepare_chunk(
    session: Session,
    claims: Sequence[Claim],
    *,
    now: datetime,
    actor: str,
    lease_seconds: int,
    stale_check: StaleCheck | None = None,
) -> PreparedChunk:
    """The send-time checks (rules 1 and 5) for ``claims``, in one transaction and a fixed
    number of queries, then ``attempt_phase = data_sent`` for the rows that pass.

    * no longer ``sending`` under our token → dropped (``lost_lease``);
    * campaign paused → ``approved`` (released, attempt given back);
    * address suppressed, or enrollment replied/bounced/unsubscribed → ``cancelled``;
    * stored bytes no longer the approved bytes → ``pending_review`` (stale);
    * send date (campaign timezone) differs from ``rendered_for`` and ``stale_check`` returns a
      reason → ``pending_review`` with that reason.

    The caller must commit before sending the returned :class:`Ready` rows.
    """
    counts: Counter[str] = Counter()
    if not claims:
        return PreparedChunk((), counts)
    by_id = {c.message_id: c for c in claims}
    rows = session.execute(
        sa.select(
            _MT.c.id,
            _MT.c.status,
            _MT.c.lease_token,
            _MT.c.raw,
            _MT.c.content_hash,
            _MT.c.approved_hash,
            _MT.c.envelope_from,
            _MT.c.envelope_to,
            _MT.c.rendered_for,
        ).where(_MT.c.id.in_(list(by_id)))
    ).all()
    mine = [r for r in rows if r[1] == _M.SENDING.value and r[2] == by_id[r[0]].lease_token]
    counts["lost_lease"] += len(by_id) - len(mine)
    campaigns = _campaigns(session, ids={by_id[r[0]].campaign_id for r in mine})
    addresses = {r[7] for r in mine if r[7]}
    addresses |= {a.lower() for a in addresses}
    suppressed = (
        {
            e.lower()
            for e in session.execute(
                sa.select(Suppression.email).where(Suppression.email.in_(list(addresses)))
            ).scalars()
        }
        if addresses
        else set()
    )
    enrollments: dict[tuple[int, int], str] = {}
    if mine:
        contact_ids = {by_id[r[0]].contact_id for r in mine}
        for cid, kid, status in session.execute(
            sa.select(Enrollment.campaign_id, Enrollment.contact_id, Enrollment.status).where(
                Enrollment.contact_id.in_(list(contact_ids)),
                Enrollment.campaign_id.in_(list(campaigns)),
            )
        ):
            enrollments[(cid, kid)] = status
    release: list[OwnedMove] = []
    cancel: list[OwnedMove] = []
    stale: list[OwnedMove] = []
    ready: list[Ready] = []
    cleared = {**_LEASE_CLEARED, "attempt_phase": None}
    for mid, _st, token, raw, chash, ahash, env_from, env_to, rendered_for in mine:
        claim = by_id[mid]
        info = campaigns.get(claim.campaign_id)
        if info is None or info.state != CampaignState.ACTIVE.value:
            release.append(
                OwnedMove(
                    mid,
                    token,
                    {**cleared, "lease_owner": None},
                    reason="campaign paused",
                    attempt={"finished_at": now, "outcome": "released"},
                )
            )
            continue
        enrollment = enrollments.get((claim.campaign_id, claim.contact_id))
        why_cancel = None
        if env_to and env_to.lower() in suppressed:
            why_cancel = "address suppressed"
        elif enrollment is not None and enrollment in _STOPPED_ENROLLMENT:
            why_cancel = f"enrollment {enrollment}"
        elif not env_to or not env_from:
            why_cancel = "no envelope sender or recipient"
        if why_cancel:
            cancel.append(
                OwnedMove(
                    mid,
                    token,
                    cleared,
                    reason=why_cancel,
                    attempt={"finished_at": now, "outcome": "cancelled"},
                )
            )
            continue
        stale_reason = None
        if not content_ok(raw, chash, ahash):
            stale_reason = "the stored message is not the approved one (changed after approval)"
        else:
            today = local_date(now, info.timezone)
            if stale_check is not None and rendered_for is not None and rendered_for != today:
                message = session.get(Message, mid)
                assert message is not None
                stale_reason = stale_check(session, message, today)
        if stale_reason:
            stale.append(
                OwnedMove(
                    mid,
                    token,
                    {**cleared, "stale_reason": stale_reason},
                    reason=stale_reason,
                    attempt={"finished_at": now, "outcome": "stale"},
                )
            )
            continue
        assert raw is not None and env_from and env_to
        ready.append(Ready(claim, raw, env_from, env_to))
    counts["released"] += len(
        transition_owned(
            session,
            release,
            to=_M.APPROVED,
            now=now,
            actor=actor,
            action="released",
            exprs=_release_exprs(),
        )
    )
    counts["cancelled"] += len(
        transition_owned(session, cancel, to=_M.CANCELLED, now=now, actor=actor, action="cancelled")
    )
    counts["stale"] += len(
        transition_owned(session, stale, to=_M.PENDING_REVIEW, now=now, actor=actor, action="stale")
    )
    if not ready:
        return PreparedChunk((), counts)
    # Rule 2: recorded before any MAIL/RCPT/DATA of these rows is sent.
    expires = now + timedelta(seconds=lease_seconds)
    session.execute(
        sa.update(_MT)
        .where(
            _MT.c.id == sa.bindparam("w_id"),
            _MT.c.lease_token == sa.bindparam("w_tok"),
            _MT.c.status == _M.SENDING.value,
        )
        .values(attempt_phase=AttemptPhase.DATA_SENT.value, lease_expires_at=expires),
        [{"w_id": r.claim.message_id, "w_tok": r.claim.lease_token} for r in ready],
    )
    session.execute(
        sa.update(_AT)
        .where(
            _AT.c.message_id == sa.bindparam("w_id"),
            _AT.c.lease_token == sa.bindparam("w_tok"),
        )
        .values(phase=AttemptPhase.DATA_SENT.value),
        [{"w_id": r.claim.message_id, "w_tok": r.claim.lease_token} for r in ready],
    )
    return PreparedChunk(tuple(ready), counts)


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, now: datetime, actor: str
) -> Counter[str]:
    """Write attempt outcomes, each guarded by its lease token; returns counts by kind, plus
    ``lost_lease`` for rows another process took over meanwhile (left untouched).

    ``failed`` with ``bounce`` also marks the enrollment ``bounced`` and suppresses the address.
    """
    counts: Counter[str] = Counter()
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.kind, []).append(o)
    target = {
        "sent": _M.SENT,
        "retrying": _M.RETRYING,
        "failed": _M.FAILED,
        "unknown": _M.UNKNOWN,
        "released": _M.APPROVED,
    }
    for kind, items in groups.items():
        moves = []
        for o in items:
            attempt = {
                "finished_at": o.at,
                "phase": o.phase,
                "outcome": kind,
                "smtp_code": o.code,
                "smtp_response": o.response,
            }
            if kind == "sent":
                values = {
                    **_LEASE_CLEARED,
                    "attempt_phase": AttemptPhase.DONE.value,
                    "sent_at": o.at,
                    "smtp_code": o.code,
                    "smtp_response": o.response,
                }
            elif kind == "retrying":
                values = {
                    **_LEASE_CLEARED,
                    "attempt_phase": o.phase,
                    "next_attempt_at": o.next_attempt_at,
                    "due_at": o.next_attempt_at,
                    "smtp_code": o.code,
                    "smtp_response": o.response,
                }
            elif kind == "failed":
                values = {
                    **_LEASE_CLEARED,
                    "attempt_phase": o.phase,
                    "smtp_code": o.code,
                    "smtp_response": o.response,
                }
            elif kind == "unknown":
                values = {
                    **_LEASE_CLEARED,
                    "attempt_phase": AttemptPhase.DATA_SENT.value,
                    "smtp_code": o.code,
                    "smtp_response": o.response,
                }
            else:  # released: never reached the server
                values = {**_LEASE_CLEARED, "attempt_phase": None, "lease_owner": None}
                if o.next_attempt_at is not None:
                    values["due_at"] = o.next_attempt_at
            moves.append(
                OwnedMove(o.claim.message_id, o.claim.lease_token, values, o.reason, attempt)
            )
        # rows with and without a due_at change must not share one executemany
        by_keys: dict[tuple[str, ...], list[OwnedMove]] = {}
        for m in moves:
            by_keys.setdefault(tuple(sorted(m.values)), []).append(m)
        applied: list[OwnedMove] = []
        for group in by_keys.values():
            applied += transition_owned(
                session,
                group,
                to=target[kind],
                now=now,
                actor=actor,
                exprs=_release_exprs() if kind == "released" else None,
            )
        counts[kind] += len(applied)
        counts["lost_lease"] += len(moves) - len(applied)
        if kind == "failed":
            done = {m.message_id for m in applied}
            for o in items:
                if o.bounce and o.claim.message_id in done:
                    _record_bounce(session, o, now=now, actor=actor)
    return counts


def _record_bounce(session: Session, outcome: Outcome, *, now: datetime, actor: str) -> None:
    claim = outcome.claim
    enrollment = session.execute(
        sa.select(Enrollment).where(
            Enrollment.campaign_id == claim.campaign_id,
            Enrollment.contact_id == claim.contact_id,
        )
    ).scalar_one_or_none()
    detail = describe(outcome.code, outcome.response or "")
    if enrollment is not None and enrollment.status != EnrollmentStatus.BOUNCED.value:
        set_enrollment_status(
            session, enrollment, EnrollmentStatus.BOUNCED, now=now, actor=actor, reason=detail
        )
    email = outcome.envelope_to
    if email and session.get(Suppression, email) is None:
        session.add(Suppression(email=email, reason="bounce", detail=detail, created_at=now))
        session.flush()


def record_and_prepare(
    session: Session,
    outcomes: Sequence[Outcome],
    claims: Sequence[Claim],
    *,
    now: datetime,
    actor: str,
    lease_seconds: int,
    stale_check: StaleCheck | None = None,
) -> tuple[Counter[str], PreparedChunk]:
    """:func:`record_outcomes` then :func:`prepare_chunk`, in the caller's one transaction (the
    dispatcher's database round: one commit for the finished chunks and the next ones)."""
    written = record_outcomes(session, outcomes, now=now, actor=actor) if outcomes else Counter()
    prepared = prepare_chunk(
        session, claims, now=now, actor=actor, lease_seconds=lease_seconds, stale_check=stale_check
    )
    return written, prepared


# ------------------------------------------------------------------------------------------
# Operator actions (``outreach queue resolve|cancel``)


def resolve_unknown(
    session: Session, message_id: int, *, sent: bool, now: datetime, actor: str
) -> Message:
    """An operator's verdict on an ``unknown`` message: it was delivered (``sent``), or it was
    not and may go again (``approved``, due now)."""
    message = session.get(Message, message_id)
    if message is None:
        raise NotFoundError(f"no message {message_id}")
    if message.status != _M.UNKNOWN.value:
        raise QueueError(
            f"message {message_id} is {message.status}, not unknown; only unknown messages "
            "can be resolved"
        )
    if sent:
        return transition(
            session,
            message,
            _M.SENT,
            now=now,
            actor=actor,
            action="resolved",
            reason="operator: delivered",
            sent_at=message.sent_at or now,
            attempt_phase=AttemptPhase.DONE.value,
        )
    return transition(
        session,
        message,
        _M.APPROVED,
        now=now,
        actor=actor,
        action="resolved",
        reason="operator: send again",
        due_at=now,
        attempt_phase=None,
        lease_owner=None,
        lease_token=None,
        lease_expires_at=None,
    )


#: What ``queue cancel`` may cancel: anything not sent, not being sent and not finished.
CANCELLABLE = frozenset({_M.PENDING_REVIEW, _M.RENDER_ERROR, _M.APPROVED, _M.RETRYING, _M.UNKNOWN})


def cancel_messages(
    session: Session,
    ids: Sequence[int],
    *,
    now: datetime,
    actor: str,
    reason: str = "operator",
) -> list[Message]:
    """Cancel every message in ``ids``, all or nothing: any missing, ``sending`` or finished
    message → :class:`QueueError` naming each problem, and nothing changes."""
    problems: list[str] = []
    found: list[Message] = []
    for mid in dict.fromkeys(ids):
        message = session.get(Message, mid)
        if message is None:
            problems.append(f"no message {mid}")
        elif MessageStatus(message.status) not in CANCELLABLE:
            what = "being sent right now" if message.status == _M.SENDING.value else message.status
            problems.append(f"message {mid} is {what}")
        else:
            found.append(message)
    if problems:
        raise QueueError("; ".join(problems) + "; nothing was cancelled")
    for message in found:
        transition(session, message, _M.CANCELLED, now=now, actor=actor, reason=reason)
    return found


# ------------------------------------------------------------------------------------------
# SMTP


def build_tls_context(settings: Settings) -> ssl.SSLContext:
    """The client TLS context: system CAs, or only ``smtp_ca_file`` when set; hostname and
    certificate verified unless ``smtp_verify`` is false."""
    try:
        ctx = ssl.create_default_context(
            cafile=str(settings.smtp_ca_file) if settings.smtp_ca_file else None
        )
    except (OSError, ssl.SSLError) as exc:
        raise SmtpTlsError(f"OUTREACH_SMTP_CA_FILE {settings.smtp_ca_file}: {exc}") from None
    if not settings.smtp_verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def _tls_failure(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class _ConnectFailed(Exception):
    def __init__(self, code: int | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.text = message


async def open_smtp(settings: Settings, tls_context: ssl.SSLContext | None) -> aiosmtplib.SMTP:
    """A connected (and, when configured, authenticated) client with the TLS mode set
    explicitly: ``tls`` implicit TLS, ``starttls`` required STARTTLS, ``none`` plain — never
    aiosmtplib's opportunistic default. Raises :class:`SmtpTlsError`, :class:`SmtpAuthError`,
    :class:`PlainAuthRefused`, or ``_ConnectFailed`` (server unreachable or refusing)."""
    mode = settings.smtp_tls
    where = f"{settings.smtp_host}:{settings.smtp_port}"
    client = aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout,
        use_tls=mode == "tls",
        start_tls=mode == "starttls",
        tls_context=tls_context if mode != "none" else None,
        validate_certs=settings.smtp_verify,
    )
    try:
        await client.connect()
    except aiosmtplib.SMTPConnectResponseError as exc:
        raise _ConnectFailed(exc.code, exc.message) from None
    except (aiosmtplib.SMTPException, OSError) as exc:
        client.close()
        bad_tls = _tls_failure(exc)
        if bad_tls is not None:
            if isinstance(bad_tls, ssl.SSLCertVerificationError):
                detail = f"certificate verification failed ({bad_tls.verify_message})"
            else:
                detail = bad_tls.reason or str(bad_tls)
            raise SmtpTlsError(
                f"TLS with the SMTP server {where} failed: {detail} "
                "(check OUTREACH_SMTP_CA_FILE and OUTREACH_SMTP_HOST)"
            ) from None
        if "STARTTLS extension not supported" in str(exc):
            raise SmtpTlsError(
                f"the SMTP server {where} does not offer STARTTLS, which OUTREACH_SMTP_TLS="
                "starttls requires"
            ) from None
        code = getattr(exc, "code", None)
        raise _ConnectFailed(code, str(exc)) from None
    if settings.smtp_username:
        tls_active = client.get_transport_info("sslcontext") is not None
        if not tls_active and not settings.smtp_allow_plain_auth:
            client.close()
            raise PlainAuthRefused()
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else ""
        try:
            await client.login(settings.smtp_username, password)
        except aiosmtplib.SMTPAuthenticationError as exc:
            client.close()
            raise SmtpAuthError(
                f"the SMTP server {where} refused our credentials: {describe(exc.code, exc.message)}"
                "; messages stay approved"
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise _ConnectFailed(exc.code, exc.message) from None
        except aiosmtplib.SMTPException as exc:
            client.close()
            raise SmtpAuthError(f"SMTP login to {where} failed: {exc}") from None
    return client


# ------------------------------------------------------------------------------------------
# The dispatcher


@dataclass
class _Run:
    """One run_once's mutable state (touched only from the event loop)."""

    counts: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    #: outcomes not yet written
    pending: list[Outcome] = field(default_factory=list)
    #: claimed (committed) rows no worker has taken yet
    claims: deque[Claim] = field(default_factory=deque)
    #: the claimer will add nothing more to ``claims``
    claims_done: bool = False
    #: chunks waiting for the database thread's next round: (claims, future of their Ready rows)
    requests: list[tuple[list[Claim], asyncio.Future[list[Ready]]]] = field(default_factory=list)
    fatal: BaseException | None = None
    backoff_until: datetime | None = None
    halted: bool = False
    closing: bool = False
    db_wake: asyncio.Event = field(default_factory=asyncio.Event)
    claims_wanted: asyncio.Event = field(default_factory=asyncio.Event)
    claims_added: asyncio.Event = field(default_factory=asyncio.Event)


async def _wait(event: asyncio.Event, timeout: float) -> None:
    """Wait for ``event`` (at most ``timeout`` seconds), then clear it."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout=timeout)
    event.clear()


class Dispatcher:
    """Sends due approved mail. One instance per process; :meth:`run_once` may be called again
    and again (the daemon), :meth:`stop` from a signal handler.

    ``stale_check(session, message, today) -> reason | None`` is asked when a message goes out
    on another day than the one it was rendered for (``None``: no re-render check).
    """

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        clock: Clock,
        owner: str | None = None,
        stale_check: StaleCheck | None = None,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = _time.monotonic,
        on_outcome: Callable[[str, int], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stale_check = stale_check
        self.rng = rng or random.Random()
        self.monotonic = monotonic
        self.on_outcome = on_outcome
        self.backoff_until: datetime | None = None
        self._stopping = False
        self._bucket = (
            TokenBucket(settings.smtp_rate_per_minute) if settings.smtp_rate_per_minute else None
        )
        self._executor: ThreadPoolExecutor | None = None
        self._tls_context: ssl.SSLContext | None = None

    # -- public ------------------------------------------------------------------------------

    def stop(self) -> None:
        """Stop claiming; in-flight messages finish, claimed unsent ones go back to approved."""
        self._stopping = True

    def run_sync(self, limit: int | None = None, campaign: str | None = None) -> DispatchSummary:
        """:meth:`run_once` from synchronous code."""
        return asyncio.run(self.run_once(limit=limit, campaign=campaign))

    async def run_once(
        self, limit: int | None = None, campaign: str | None = None
    ) -> DispatchSummary:
        """Sweep expired leases, then claim and send batches until nothing is due, ``limit``
        messages were claimed, or :meth:`stop`. Raises :class:`SmtpAuthError` /
        :class:`SmtpTlsError` (after releasing every unsent claim) when the server cannot be
        used at all."""
        self._stopping = False
        run = _Run()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="outreach-dispatch-db")
        try:
            return await self._run(run, limit, campaign)
        finally:
            self._executor.shutdown(wait=True)
            self._executor = None

    # -- internals ---------------------------------------------------------------------------

    async def _db(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        def work() -> T:
            with session_scope(self.engine) as session:
                return fn(session, *args, **kwargs)

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, work)

    async def _run(self, run: _Run, limit: int | None, campaign: str | None) -> DispatchSummary:
        s = self.settings
        if campaign is not None:
            found = await self._db(lambda session: _campaigns(session, slug=campaign))
            if not found:
                raise NotFoundError(f"no campaign {campaign!r}")
        swept = await self._db(sweep_expired, now=self.clock.now(), actor=self.owner)
        now = self.clock.now()
        if self.backoff_until is not None and now < self.backoff_until:
            run.skipped["SMTP server backing off"] += 1
            return self._summary(run, swept)
        if s.smtp_tls != "none" and self._tls_context is None:
            self._tls_context = build_tls_context(s)
        batch_size = s.dispatch_batch
        buffered = max(batch_size, s.smtp_concurrency * CHUNK)
        if s.smtp_rate_per_minute:
            # never claim more than half a lease's worth of sending at the configured rate
            batch_size = max(1, min(batch_size, s.smtp_rate_per_minute * s.lease_seconds // 120))
            buffered = batch_size
        workers = [asyncio.create_task(self._worker(run)) for _ in range(s.smtp_concurrency)]
        driver = asyncio.create_task(self._db_driver(run))
        try:
            await self._claimer(run, limit, campaign, batch_size, buffered)
        except BaseException as exc:
            if run.fatal is None:
                run.fatal = exc
            run.halted = True
        finally:
            run.claims_done = True
            run.claims_added.set()
            results = await asyncio.gather(*workers, return_exceptions=True)
            for res in results:
                if isinstance(res, BaseException) and run.fatal is None:
                    run.fatal = res
                    run.halted = True
            # anything still buffered was never prepared: give it back
            if run.claims:
                self._release(
                    run, list(run.claims), reason=self._halt_reason(run), due_at=run.backoff_until
                )
                run.claims.clear()
            run.closing = True
            run.db_wake.set()
            for res in await asyncio.gather(driver, return_exceptions=True):
                if isinstance(res, BaseException) and run.fatal is None:
                    run.fatal = res
            await self._flush(run)
        if run.backoff_until is not None:
            self.backoff_until = run.backoff_until
        if run.fatal is not None:
            raise run.fatal
        return self._summary(run, swept)

    def _summary(self, run: _Run, swept: SweepCounts) -> DispatchSummary:
        c = run.counts
        return DispatchSummary(
            sent=c["sent"],
            retrying=c["retrying"],
            failed=c["failed"],
            cancelled=c["cancelled"],
            stale=c["stale"],
            released=c["released"],
            unknown=c["unknown"],
            lost_lease=c["lost_lease"],
            swept_released=swept.released,
            swept_unknown=swept.unknown,
            skipped_reasons=dict(run.skipped),
        )

    async def _claimer(
        self,
        run: _Run,
        limit: int | None,
        campaign: str | None,
        batch_size: int,
        buffered: int,
    ) -> None:
        """Keep about ``buffered`` committed claims ready for the workers."""
        remaining = limit
        while not (self._stopping or run.halted):
            if remaining is not None and remaining <= 0:
                break
            if len(run.claims) >= buffered:
                await _wait(run.claims_wanted, FLUSH_SECONDS)
                continue
            size = batch_size if remaining is None else min(batch_size, remaining)
            batch = await self._db(
                claim_due,
                now=self.clock.now(),
                owner=self.owner,
                limit=size,
                lease_seconds=self.settings.lease_seconds,
                campaign=campaign,
            )
            run.skipped.update(batch.skipped)
            if not batch.claims:
                if batch.scanned:  # all bumped to their window: look again
                    continue
                break
            if remaining is not None:
                remaining -= len(batch.claims)
            run.claims.extend(batch.claims)
            run.claims_added.set()

    def _release(
        self,
        run: _Run,
        claims: Iterable[Claim],
        *,
        reason: str,
        due_at: datetime | None = None,
    ) -> None:
        at = self.clock.now()
        claims = list(claims)
        if claims:
            run.skipped[reason.split(":")[0]] += len(claims)
        for c in claims:
            run.pending.append(
                Outcome(
                    c,
                    "released",
                    at,
                    AttemptPhase.CLAIMED.value,
                    next_attempt_at=due_at,
                    reason=reason,
                )
            )

    def _halt_reason(self, run: _Run) -> str:
        if run.fatal is not None:
            return f"dispatcher stopped on an error: {run.fatal}"
        if run.backoff_until is not None:
            return "SMTP server unavailable (backing off)"
        return "dispatcher stopped"

    async def _worker(self, run: _Run) -> None:
        """One SMTP connection. Its next chunk is checked and recorded ``data_sent`` (by the
        database thread) while the current one is on the wire."""
        client: aiosmtplib.SMTP | None = None
        dirty = False
        ahead: asyncio.Task[list[Ready] | None] | None = None
        try:
            ahead = asyncio.create_task(self._next_ready(run))
            while True:
                ready = await ahead
                ahead = None
                if ready is None:
                    return
                if self._stopping or run.halted:
                    self._release(
                        run,
                        [r.claim for r in ready],
                        reason=self._halt_reason(run),
                        due_at=run.backoff_until,
                    )
                    return
                ahead = asyncio.create_task(self._next_ready(run))
                try:
                    client, dirty = await self._send_chunk(run, ready, client, dirty)
                except Exception as exc:
                    # a bug: stop; this chunk's rows are left to the lease sweeper
                    # (approved if never sent, unknown if they may have been)
                    run.fatal = run.fatal or exc
                    run.halted = True
        finally:
            if ahead is not None:
                ahead.cancel()
                with contextlib.suppress(BaseException):
                    await ahead
            if client is not None:
                try:
                    if client.is_connected:
                        await asyncio.wait_for(client.quit(), timeout=5)
                except (aiosmtplib.SMTPException, OSError, TimeoutError):
                    client.close()

    def _chunk_size(self, run: _Run) -> int:
        """What is buffered, spread over every connection, at most :func:`chunk_limit`."""
        s = self.settings
        share = -(-len(run.claims) // s.smtp_concurrency)
        return max(1, min(chunk_limit(s.dispatch_batch, s.smtp_concurrency), share))

    async def _next_ready(self, run: _Run) -> list[Ready] | None:
        """The next chunk for one connection, checked and recorded ``data_sent``; ``None`` when
        there is nothing more to send (or the run stopped)."""
        while True:
            if self._stopping or run.halted:
                return None
            if run.claims:
                n = self._chunk_size(run)
                claims = [run.claims.popleft() for _ in range(min(n, len(run.claims)))]
                run.claims_wanted.set()
                fut: asyncio.Future[list[Ready]] = asyncio.get_running_loop().create_future()
                run.requests.append((claims, fut))
                run.db_wake.set()
                return await fut
            if run.claims_done:
                return None
            run.claims_wanted.set()
            await _wait(run.claims_added, FLUSH_SECONDS)

    async def _send_chunk(
        self,
        run: _Run,
        ready: list[Ready],
        client: aiosmtplib.SMTP | None,
        dirty: bool,
    ) -> tuple[aiosmtplib.SMTP | None, bool]:
        bucket = self._bucket
        for i, item in enumerate(ready):
            if self._stopping or run.halted:
                self._release(
                    run,
                    [r.claim for r in ready[i:]],
                    reason=self._halt_reason(run),
                    due_at=run.backoff_until,
                )
                break
            if bucket is not None:
                wait = bucket.reserve(self.monotonic())
                if wait > 0:
                    await asyncio.sleep(wait)
            client, dirty, outcome = await self._send_one(run, client, dirty, item)
            run.pending.append(outcome)
            if len(run.pending) >= FLUSH_EVERY:
                run.db_wake.set()
        return client, dirty

    async def _send_one(
        self, run: _Run, client: aiosmtplib.SMTP | None, dirty: bool, item: Ready
    ) -> tuple[aiosmtplib.SMTP | None, bool, Outcome]:
        claim = item.claim
        if client is None or not client.is_connected:
            try:
                client = await open_smtp(self.settings, self._tls_context)
                dirty = False
            except (SmtpAuthError, SmtpTlsError, PlainAuthRefused) as exc:
                run.fatal = run.fatal or exc
                run.halted = True
                return None, False, self._released_outcome(claim, str(exc))
            except _ConnectFailed as exc:
                decision = self._decide(claim, exc.code, exc.text, "connect")
                return None, False, self._server_down(run, item, decision, exc.code, exc.text)
        stage: Literal["mail", "rcpt", "data"] = "mail"
        try:
            if dirty:
                await client.rset()
                dirty = False
            await client.mail(item.envelope_from)
            stage = "rcpt"
            await client.rcpt(item.envelope_to)
            stage = "data"
            reply = await client.data(item.raw)
        except aiosmtplib.SMTPResponseException as exc:
            dirty = True
            if not client.is_connected:
                client = None
            decision = self._decide(claim, exc.code, exc.message, stage)
            if decision.outcome == "auth_error":
                run.fatal = run.fatal or SmtpAuthError(
                    f"the SMTP server refused to send without authentication: {decision.reason}"
                    "; messages stay approved"
                )
                run.halted = True
                return client, dirty, self._released_outcome(claim, decision.reason)
            if decision.outcome == "server_backoff":
                outcome = self._server_down(run, item, decision, exc.code, exc.message, stage=stage)
                return client, dirty, outcome
            return client, dirty, self._outcome(item, decision, exc.code, exc.message, stage)
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            if client is not None:
                client.close()
            if stage == "data":
                return (
                    None,
                    False,
                    Outcome(
                        claim,
                        "unknown",
                        self.clock.now(),
                        AttemptPhase.DATA_SENT.value,
                        response=str(exc),
                        reason=f"connection lost during DATA ({exc}); it may have been delivered",
                    ),
                )
            text = str(exc) or type(exc).__name__
            decision = self._decide(claim, None, text, stage)
            return None, False, self._outcome(item, decision, None, text, stage)
        decision = self._decide(claim, reply.code, reply.message, "data")
        return client, dirty, self._outcome(item, decision, reply.code, reply.message, "data")

    def _decide(self, claim: Claim, code: int | None, text: str, stage: Any) -> RetryDecision:
        return decide(
            code,
            text,
            attempts=claim.attempt,
            first_attempt_at=claim.first_attempt_at,
            now=self.clock.now(),
            lifetime=self.settings.retry_lifetime,
            rng=self.rng,
            stage=stage,
        )

    def _released_outcome(self, claim: Claim, reason: str) -> Outcome:
        return Outcome(
            claim, "released", self.clock.now(), AttemptPhase.CLAIMED.value, reason=reason
        )

    def _server_down(
        self,
        run: _Run,
        item: Ready,
        decision: RetryDecision,
        code: int | None,
        text: str,
        *,
        stage: str = "connect",
    ) -> Outcome:
        """Charge this one message; hold every other one of this run until the backoff ends."""
        if decision.next_attempt_at is not None:
            run.backoff_until = max(
                run.backoff_until or decision.next_attempt_at, decision.next_attempt_at
            )
        run.halted = True
        return self._outcome(item, decision, code, text, stage)

    def _outcome(
        self, item: Ready, decision: RetryDecision, code: int | None, text: str, stage: str
    ) -> Outcome:
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
            self.clock.now(),
            phase,
            code=code,
            response=" ".join((text or "").split()) or None,
            next_attempt_at=decision.next_attempt_at,
            bounce=decision.bounce,
            envelope_to=item.envelope_to,
            reason=decision.reason,
        )

    def _notify(self, counts: Mapping[str, int]) -> None:
        if self.on_outcome is not None:
            for kind, n in counts.items():
                if n:
                    self.on_outcome(kind, n)

    async def _db_driver(self, run: _Run) -> None:
        """The database thread's rounds: each one writes the outcomes pending so far and checks
        every chunk the workers asked for since the last round, in one transaction. A round
        starts as soon as a chunk is asked for, FLUSH_EVERY outcomes are pending, or
        FLUSH_SECONDS have passed."""
        while True:
            if not run.requests:
                if run.closing:
                    return
                await _wait(run.db_wake, FLUSH_SECONDS)
            requests, run.requests = run.requests, []
            if not requests and not run.pending:
                continue
            outcomes, run.pending = run.pending, []
            claims = [c for part, _ in requests for c in part]
            try:
                written, prepared = await self._db(
                    record_and_prepare,
                    outcomes,
                    claims,
                    now=self.clock.now(),
                    actor=self.owner,
                    lease_seconds=self.settings.lease_seconds,
                    stale_check=self.stale_check,
                )
            except BaseException as exc:
                # nothing more can be checked or recorded: stop every worker
                run.fatal = run.fatal or exc
                run.halted = True
                for _, fut in requests + run.requests:
                    if not fut.done():
                        fut.set_exception(exc)
                run.requests = []
                raise
            run.counts.update(written)
            self._notify(written)
            run.counts.update(prepared.counts)
            self._notify(prepared.counts)
            by_id = {r.claim.message_id: r for r in prepared.ready}
            for part, fut in requests:
                if not fut.done():
                    fut.set_result([by_id[c.message_id] for c in part if c.message_id in by_id])

    async def _flush(self, run: _Run) -> None:
        if not run.pending:
            return
        items, run.pending = run.pending, []
        counts = await self._db(record_outcomes, items, now=self.clock.now(), actor=self.owner)
        run.counts.update(counts)
        self._notify(counts)
