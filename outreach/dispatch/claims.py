"""Claiming due mail (DESIGN.md rule 2), and the dry run that shows what a claim would take.

One transaction: due ``approved``/``retrying`` rows of active campaigns, inside the recipient's
send window, under the campaign's daily limit, move to ``sending`` with a fresh lease token —
``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the whole transaction is ``BEGIN
IMMEDIATE`` (the single writer) and the move is a compare-and-set on the status. The caller
commits before any SMTP traffic. The queries are :mod:`outreach.repository.outbox`'s, the
choice is :func:`outreach.dispatch.policy.select_claimable`'s.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta

from outreach.db import Session
from outreach.dispatch.policy import (
    CampaignInfo,
    Selection,
    daily_remaining,
    day_bounds,
    select_claimable,
    window_from_json,
)
from outreach.dispatch.values import Claim, ClaimBatch
from outreach.lifecycle import transition_many
from outreach.repository import outbox
from outreach.repository.outbox import DuePreview
from outreach.states import MessageStatus

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


def select_due(
    session: Session, *, now: datetime, limit: int, campaign: str | None, lock: bool
) -> Selection:
    """The due rows to claim, in due order, with window and daily-limit filtering (``lock``:
    take them ``FOR UPDATE SKIP LOCKED`` on PostgreSQL)."""
    active = {
        cid: info for cid, info in campaign_infos(session, slug=campaign).items() if info.active
    }
    remaining = {cid: remaining_today(session, info, now) for cid, info in active.items()}
    at_limit = [cid for cid, left in remaining.items() if left == 0]
    eligible = [cid for cid in active if cid not in at_limit]
    skipped: dict[str, int] = {}
    if at_limit:
        skipped["daily limit reached"] = outbox.count_due(session, campaign_ids=at_limit, now=now)
    if not eligible:
        return Selection((), (), 0, skipped)
    rows = outbox.due_rows(session, now=now, campaign_ids=eligible, limit=limit, lock=lock)
    return select_claimable(rows, campaigns=active, remaining=remaining, now=now, skipped=skipped)


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
    gets an ``attempt`` row and an event. Due rows outside their window get ``due_at`` moved to
    its next opening. The caller must commit before any SMTP traffic.
    """
    sel = select_due(session, now=now, limit=limit, campaign=campaign, lock=True)
    for status in _CLAIM_ORDER:
        bumped = [(mid, due) for mid, st, due in sel.bumps if st == status.value]
        outbox.move_due_at(session, status=status.value, changes=bumped)
    if not sel.chosen:
        return ClaimBatch((), sel.scanned, sel.skipped)
    token = secrets.token_hex(16)
    changes = outbox.claim_changes(
        now=now,
        owner=owner,
        token=token,
        lease_expires_at=now + timedelta(seconds=lease_seconds),
    )
    moved: list[int] = []
    for status in _CLAIM_ORDER:
        moved += transition_many(
            session,
            [mid for mid, st in sel.chosen if st == status.value],
            current=status,
            to=MessageStatus.SENDING,
            now=now,
            actor=owner,
            action="claimed",
            **changes,
        )
    claims = [
        Claim(
            row.id,
            token,
            row.campaign_id,
            row.contact_id,
            row.attempts,
            row.first_attempt_at or now,
        )
        for row in outbox.claimed_rows(session, ids=sorted(moved), token=token)
    ]
    outbox.insert_attempts(
        session, attempts=[(c.message_id, c.attempt) for c in claims], token=token, now=now
    )
    return ClaimBatch(tuple(claims), sel.scanned, sel.skipped)


def preview_due(
    session: Session, *, now: datetime, limit: int | None = None, campaign: str | None = None
) -> tuple[list[DuePreview], dict[str, int]]:
    """What :func:`claim_due` would claim now, changing nothing (``send --dry-run``), and why
    other due messages would be left."""
    sel = select_due(session, now=now, limit=limit or 1_000_000, campaign=campaign, lock=False)
    previews = outbox.due_previews(session, ids=[mid for mid, _ in sel.chosen])
    return previews, dict(sel.skipped)
