"""What waits in the queue, until when and why: the queue listing (``queue list``, the web's
queue) and the dry run (``send --dry-run``) say when dispatch will next try each message and
why it waits — its send window, its campaign's daily limit, a retry's backoff, a paused
campaign — as :func:`outreach.dispatch.policy.next_try` decides it from the loaded rows (the
rule is the policy's, not the listing's)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach.db import Session
from outreach.dispatch.claims import campaign_infos, remaining_today
from outreach.dispatch.policy import CampaignInfo, Wait, next_try
from outreach.repository import outbox
from outreach.repository.outbox import WaitRow
from outreach.review.queue import QueueItem, list_queue
from outreach.states import MessageStatus


def waits(session: Session, rows: Iterable[WaitRow], *, now: datetime) -> dict[int, Wait]:
    """:func:`next_try` for each of ``rows`` (by message id) that dispatch will try again or
    that waits for a person."""
    rows = list(rows)
    infos = campaign_infos(session, ids={r.campaign_id for r in rows})
    remaining = {cid: remaining_today(session, info, now) for cid, info in infos.items()}
    out: dict[int, Wait] = {}
    for row in rows:
        wait = next_try(row, infos[row.campaign_id], remaining=remaining[row.campaign_id], now=now)
        if wait is not None:
            out[row.id] = wait
    return out


def queue_listing(
    session: Session,
    *,
    now: datetime,
    status: MessageStatus | str | None = None,
    campaign: str | None = None,
    limit: int | None = None,
) -> list[QueueItem]:
    """:func:`outreach.review.queue.list_queue`, each item with ``next_try_at`` and
    ``waiting_reason`` filled in (both ``None`` for a message dispatch is done with)."""
    items = list_queue(session, status=status, campaign=campaign, limit=limit)
    found = waits(session, outbox.wait_rows(session, ids=[i.id for i in items]), now=now)
    return [
        dataclasses.replace(
            item,
            next_try_at=_iso(found[item.id].at) if item.id in found else None,
            waiting_reason=found[item.id].reason if item.id in found else None,
        )
        for item in items
    ]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class Waiting:
    """Claimable messages not sent now, grouped by why: how many, and the earliest next try."""

    reason: str
    count: int
    next_try_at: datetime | None


def waiting_now(
    session: Session, *, now: datetime, campaign: str | None, sending: Sequence[int]
) -> list[Waiting]:
    """The claimable messages (of ``campaign``, or every campaign) that a send at ``now``
    would not take — all but the ``sending`` ids — grouped by why they wait, soonest first."""
    infos: dict[int, CampaignInfo] = campaign_infos(session, slug=campaign)
    taken = set(sending)
    rows = [
        r
        for r in outbox.claimable_wait_rows(session, campaign_ids=list(infos))
        if r.id not in taken
    ]
    by_reason: dict[str, list[Wait]] = {}
    for wait in waits(session, rows, now=now).values():
        by_reason.setdefault(wait.reason, []).append(wait)
    groups = [
        Waiting(reason, len(found), min((w.at for w in found if w.at is not None), default=None))
        for reason, found in by_reason.items()
    ]
    return sorted(groups, key=lambda w: (w.next_try_at is None, w.next_try_at or now))
