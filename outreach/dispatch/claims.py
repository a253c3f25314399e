"""Claiming due mail with its send-time checks (DESIGN.md rules 1, 2 and 5), and the dry run
that shows what a claim would take.

One transaction (the caller's; it commits before any SMTP traffic): due ``approved``/
``retrying`` rows of active campaigns, inside the recipient's send window, under the campaign's
daily limit, are loaded with everything their send-time checks read (``FOR UPDATE SKIP LOCKED``
on PostgreSQL; on SQLite the whole transaction is ``BEGIN IMMEDIATE``, the single writer).
:mod:`.checks` decides: a suppressed or stopped contact's message is cancelled, one whose bytes
are not the approved ones goes back to review, and the rest move to ``sending`` under a fresh
lease token — each move a compare-and-set on the status. The queries are
:mod:`outreach.repository.outbox`'s, the choices :mod:`.policy`'s and :mod:`.checks`'.

Decisions worth knowing:

* The daily limit is counted under a per-campaign lock (PostgreSQL advisory lock; SQLite's
  single writer) held until the claim commits, so several dispatchers never go over it.
* A letter rendered for another day is re-rendered for the day its recipient reads it by the
  injected stale check; if that differs it goes back to review as stale instead of being
  claimed — its approvals deleted and, with ``rerender_stale`` wired in, rendered again at once
  in the same transaction, so reviewers see the new text.
"""

from __future__ import annotations

import secrets
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta

from outreach.db import Session
from outreach.dispatch.checks import SendCheck, Verdict, check_candidates, ready_for
from outreach.dispatch.policy import (
    CampaignInfo,
    Selection,
    daily_remaining,
    day_bounds,
    select_claimable,
    window_from_json,
)
from outreach.dispatch.values import Claim, ClaimBatch, Ready
from outreach.lifecycle import transition_many
from outreach.models import Message
from outreach.repository import outbox
from outreach.repository.outbox import ClaimCandidate, DuePreview
from outreach.repository.review import delete_approvals
from outreach.repository.suppressions import suppressed_emails
from outreach.states import MessageStatus

#: ``stale_check(session, message, today) -> reason | None``: asked when a message goes out on
#: another day than the one it was rendered for; a reason sends it back to review.
StaleCheck = Callable[[Session, Message, date], "str | None"]
#: ``rerender_stale(session, message ids, now, actor)``: called, in the same transaction, with
#: the messages just sent back to review as stale, to render them again at once.
StaleRerender = Callable[[Session, Sequence[int], datetime, str], None]

#: The claimable statuses (:data:`outreach.states.CLAIMABLE`), in the order they are moved.
_CLAIM_ORDER = (MessageStatus.APPROVED, MessageStatus.RETRYING)


def campaign_infos(
    session: Session, *, slug: str | None = None, ids: Iterable[int] | None = None
) -> dict[int, CampaignInfo]:
    """Every campaign (or the one named ``slug``, or those in ``ids``) by id, with its send
    window parsed."""
    return {
        row.id: CampaignInfo(
            row.id, row.slug, row.timezone, window_from_json(row.sending), row.state
        )
        for row in outbox.campaign_rows(session, slug=slug, ids=ids)
    }


def campaign_exists(session: Session, slug: str) -> bool:
    """True when a campaign named ``slug`` exists."""
    return bool(outbox.campaign_rows(session, slug=slug))


def remaining_today(session: Session, info: CampaignInfo, now: datetime) -> int | None:
    """How many more messages the campaign may send today (``None``: no daily limit)."""
    if info.window.daily_limit is None:
        return None
    since, until = day_bounds(now, info.timezone)
    counted = outbox.count_toward_daily_limit(
        session, campaign_id=info.id, since=since, until=until
    )
    return daily_remaining(info.window.daily_limit, counted)


def _eligible(
    session: Session, *, now: datetime, campaign: str | None, lock: bool
) -> tuple[dict[int, CampaignInfo], dict[int, int | None], dict[str, int]]:
    """The active campaigns, what each may still send today, and the due messages of those
    at their daily limit (``lock``: count under the per-campaign daily-limit lock)."""
    active = {
        cid: info for cid, info in campaign_infos(session, slug=campaign).items() if info.active
    }
    if lock:
        limited = [cid for cid, info in active.items() if info.window.daily_limit is not None]
        outbox.lock_daily_counts(session, campaign_ids=limited)
    remaining = {cid: remaining_today(session, info, now) for cid, info in active.items()}
    at_limit = [cid for cid, left in remaining.items() if left == 0]
    skipped: dict[str, int] = {}
    if at_limit:
        skipped["daily limit reached"] = outbox.count_due(session, campaign_ids=at_limit, now=now)
    return active, remaining, skipped


def claim_due(
    session: Session,
    *,
    now: datetime,
    owner: str,
    limit: int,
    lease_seconds: int,
    campaign: str | None = None,
    stale_check: StaleCheck | None = None,
    rerender_stale: StaleRerender | None = None,
) -> ClaimBatch:
    """Claim up to ``limit`` due messages for ``owner``, checked for sending now:
    ``approved``/``retrying``, ``due_at <= now``, active campaign (paused ones are never
    claimed), inside the recipient's send window (contact timezone, else the campaign's), under
    the campaign's daily limit (``sent`` today in the campaign's timezone plus ``sending``).

    Those that fail a send-time check (:mod:`.checks`) are cancelled or go back to review
    instead (their approvals deleted, and rendered again at once by ``rerender_stale``); the
    others become ``sending`` with ``lease_owner``, one fresh ``lease_token`` for
    the batch, ``lease_expires_at = now + lease_seconds``, phase ``claimed``, ``attempts + 1``,
    and an event each. Due rows outside their window get ``due_at`` moved to its next opening.
    The caller must commit before any SMTP traffic.
    """
    active, remaining, skipped = _eligible(session, now=now, campaign=campaign, lock=True)
    eligible = [cid for cid, left in remaining.items() if left != 0]
    if not eligible:
        return ClaimBatch((), 0, skipped)
    rows = outbox.claim_candidates(session, now=now, campaign_ids=eligible, limit=limit)
    sel = select_claimable(rows, campaigns=active, remaining=remaining, now=now, skipped=skipped)
    for status in _CLAIM_ORDER:
        bumped = [(mid, due) for mid, st, due in sel.bumps if st == status.value]
        outbox.move_due_at(session, status=status.value, changes=bumped)
    chosen = {mid for mid, _ in sel.chosen}
    checks = _checked(session, [r for r in rows if r.id in chosen], active, now, stale_check)
    counts, reasons = _apply_verdicts(
        session, checks, now=now, actor=owner, rerender_stale=rerender_stale
    )
    to_claim = [c.row for c in checks if c.verdict == Verdict.SEND]
    ready = _claim(session, to_claim, now=now, owner=owner, lease_seconds=lease_seconds)
    return ClaimBatch(tuple(ready), sel.scanned, sel.skipped, counts, reasons)


def _checked(
    session: Session,
    rows: Sequence[ClaimCandidate],
    campaigns: dict[int, CampaignInfo],
    now: datetime,
    stale_check: StaleCheck | None,
) -> list[SendCheck]:
    """The send-time verdict on each row: :func:`check_candidates` over the suppressed
    addresses and enrollments loaded here, re-render verdicts settled by ``stale_check``."""
    if not rows:
        return []
    addresses = {r.envelope_to for r in rows if r.envelope_to}
    addresses |= {a.lower() for a in addresses}
    suppressed = {e.lower() for e in suppressed_emails(session, addresses)} if addresses else set()
    enrollments = outbox.enrollment_statuses(
        session, contact_ids={r.contact_id for r in rows}, campaign_ids=list(campaigns)
    )
    checks = check_candidates(
        rows, campaigns=campaigns, suppressed=suppressed, enrollments=enrollments, now=now
    )
    return [_rerendered(session, c, stale_check) for c in checks]


def _rerendered(session: Session, check: SendCheck, stale_check: StaleCheck | None) -> SendCheck:
    """A ``rerender`` verdict settled: ``stale`` when ``stale_check`` gives a reason, else
    ``send`` (also when there is no stale check)."""
    if check.verdict != Verdict.RERENDER:
        return check
    reason = None
    if stale_check is not None:
        assert check.today is not None
        message = outbox.get_message(session, check.row.id)
        assert message is not None
        reason = stale_check(session, message, check.today)
    if reason:
        return SendCheck(check.row, Verdict.STALE, reason)
    return SendCheck(check.row, Verdict.SEND)


#: Where a failed send-time check moves a message, and the count (and event action) it is
#: recorded under.
_VERDICT_MOVES = (
    (Verdict.CANCEL, MessageStatus.CANCELLED, "cancelled"),
    (Verdict.STALE, MessageStatus.PENDING_REVIEW, "stale"),
)


def _apply_verdicts(
    session: Session,
    checks: Sequence[SendCheck],
    *,
    now: datetime,
    actor: str,
    rerender_stale: StaleRerender | None,
) -> tuple[Counter[str], Counter[tuple[str, str]]]:
    """Cancel the messages that must not go, send back to review those whose bytes are not
    the approved ones (with the reason; see :func:`_back_to_review`); each a compare-and-set
    on the status they were loaded in. Counts by action, and by (action, reason)."""
    counts: Counter[str] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    for verdict, target, action in _VERDICT_MOVES:
        groups: dict[tuple[str, str | None], list[int]] = {}
        for c in checks:
            if c.verdict == verdict:
                groups.setdefault((c.row.status, c.reason), []).append(c.row.id)
        for (status, reason), ids in groups.items():
            extra = {"stale_reason": reason} if verdict == Verdict.STALE else {}
            moved = transition_many(
                session,
                ids,
                current=MessageStatus(status),
                to=target,
                now=now,
                actor=actor,
                reason=reason,
                action=action,
                **extra,
            )
            counts[action] += len(moved)
            reasons[(action, reason or action)] += len(moved)
            if verdict == Verdict.STALE and moved:
                _back_to_review(session, moved, now, actor, rerender_stale)
    return counts, reasons


def _back_to_review(
    session: Session,
    ids: Sequence[int],
    now: datetime,
    actor: str,
    rerender_stale: StaleRerender | None,
) -> None:
    """Messages just sent back to review as stale: their approvals (of other bytes) deleted,
    then rendered again at once when a re-render is wired in."""
    delete_approvals(session, message_ids=ids)
    if rerender_stale is not None:
        rerender_stale(session, ids, now, actor)


def _claim(
    session: Session,
    rows: Sequence[ClaimCandidate],
    *,
    now: datetime,
    owner: str,
    lease_seconds: int,
) -> list[Ready]:
    """Move ``rows`` to ``sending`` under one fresh lease token (a compare-and-set on the
    status each was loaded in); the :class:`Ready` items of those moved, in due order."""
    if not rows:
        return []
    token = secrets.token_hex(16)
    changes = outbox.claim_changes(
        now=now, owner=owner, token=token, lease_expires_at=now + timedelta(seconds=lease_seconds)
    )
    moved: set[int] = set()
    for status in _CLAIM_ORDER:
        moved |= set(
            transition_many(
                session,
                [r.id for r in rows if r.status == status.value],
                current=status,
                to=MessageStatus.SENDING,
                now=now,
                actor=owner,
                action="claimed",
                **changes,
            )
        )
    return [
        ready_for(
            r,
            Claim(
                r.id,
                token,
                r.campaign_id,
                r.contact_id,
                r.attempts + 1,
                r.first_attempt_at or now,
                claimed_at=now,
            ),
        )
        for r in rows
        if r.id in moved
    ]


def select_due(session: Session, *, now: datetime, limit: int, campaign: str | None) -> Selection:
    """The due rows a claim would take now, in due order, with window and daily-limit
    filtering; nothing locked, nothing changed."""
    active, remaining, skipped = _eligible(session, now=now, campaign=campaign, lock=False)
    eligible = [cid for cid, left in remaining.items() if left != 0]
    if not eligible:
        return Selection((), (), 0, skipped)
    rows = outbox.due_rows(session, now=now, campaign_ids=eligible, limit=limit, lock=False)
    return select_claimable(rows, campaigns=active, remaining=remaining, now=now, skipped=skipped)


def preview_due(
    session: Session, *, now: datetime, limit: int | None = None, campaign: str | None = None
) -> tuple[list[DuePreview], dict[str, int]]:
    """What :func:`claim_due` would claim now, changing nothing (``send --dry-run``), and why
    other due messages would be left."""
    sel = select_due(session, now=now, limit=limit or 1_000_000, campaign=campaign)
    previews = outbox.due_previews(session, ids=[mid for mid, _ in sel.chosen])
    return previews, dict(sel.skipped)
