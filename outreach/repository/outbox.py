"""The outbox: every query dispatch runs over the message queue, with named result rows.

Claims (``FOR UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite the whole transaction is
``BEGIN IMMEDIATE`` — the single writer — and the claim's update is a compare-and-set on the
status) with everything the send-time checks read loaded in the same query, the daily-limit
count (under a per-campaign advisory lock on PostgreSQL), expired leases, the campaign facts
dispatch needs, the dry-run preview and the operator's queue lookups. The ``attempt`` rows —
the ``data_sent`` mark among them — are :mod:`outreach.repository.attempts`'.

State changes are not made here: :mod:`outreach.lifecycle` moves a message (compare-and-set plus
its event row); this module only supplies the rows and the column expressions a move sets.
The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from outreach.db import is_postgres
from outreach.models import Attempt, Campaign, Contact, Enrollment, Message, MessageBody
from outreach.states import CLAIMABLE, AttemptPhase, MessageStatus

#: Most ids one ``IN (…)`` list holds.
ID_CHUNK = 500

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_ATTEMPTS = Attempt.__table__  # type: ignore[attr-defined]
_BODIES = MessageBody.__table__  # type: ignore[attr-defined]
_CLAIMABLE = sorted(s.value for s in CLAIMABLE)


def status_is(status: str) -> sa.ColumnElement[bool]:
    """``message.status = status`` for a query that also picks rows by id: written as an
    expression so that the database looks the rows up by id instead of scanning every row with
    that status in the ``(status, …)`` indexes — SQLite (without statistics) prefers the
    covering index, and PostgreSQL, whose statistics taken while the queue was ``approved``
    call ``sending`` rare, would walk every ``sending`` row (and its dead index entries)."""
    return _MESSAGES.c.status.concat("") == status


def id_in(column: sa.ColumnElement[int], name: str, *, postgres: bool) -> sa.ColumnElement[bool]:
    """``column IN (…the ids bound as name…)`` for a statement built once: on PostgreSQL
    ``= ANY(:name)`` with one array parameter, so that the statement's text does not change with
    the number of ids and psycopg can prepare it; elsewhere an expanding ``IN``."""
    if postgres:
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(sa.Integer)))
    return column.in_(sa.bindparam(name, expanding=True))


def in_chunks(items: Sequence[Any], size: int = ID_CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in consecutive slices of at most ``size`` (for ``IN (…)`` lists)."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


# ------------------------------------------------------------------------------------------
# Campaigns and daily counts


class CampaignRow(NamedTuple):
    """What dispatch needs of a campaign: its sending rules (``campaign.sending`` JSON) and
    whether it is active."""

    id: int
    slug: str
    timezone: str
    sending: Mapping[str, Any] | None
    state: str


def campaign_rows(
    session: Session, *, slug: str | None = None, ids: Iterable[int] | None = None
) -> list[CampaignRow]:
    """Every campaign, or the one named ``slug``, or those in ``ids``."""
    query = sa.select(
        Campaign.id, Campaign.slug, Campaign.timezone, Campaign.sending, Campaign.state
    )
    if slug is not None:
        query = query.where(Campaign.slug == slug)
    if ids is not None:
        query = query.where(Campaign.id.in_(list(ids)))
    return [CampaignRow(*row) for row in session.execute(query)]


def count_toward_daily_limit(
    session: Session, *, campaign_id: int, since: datetime, until: datetime
) -> int:
    """Messages of the campaign that count against its daily limit: ``sent`` in ``[since,
    until)`` plus every one being sent right now."""
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(_MESSAGES)
            .where(
                _MESSAGES.c.campaign_id == campaign_id,
                sa.or_(
                    sa.and_(
                        _MESSAGES.c.status == MessageStatus.SENT.value,
                        _MESSAGES.c.sent_at >= since,
                        _MESSAGES.c.sent_at < until,
                    ),
                    _MESSAGES.c.status == MessageStatus.SENDING.value,
                ),
            )
        ).scalar_one()
    )


#: The first key of the advisory locks under which a campaign's daily limit is counted (the
#: second is the campaign id); any constant no other part of outreach uses.
DAILY_LIMIT_LOCK = 0x6F7574


def lock_daily_counts(session: Session, *, campaign_ids: Sequence[int]) -> None:
    """Serialise daily-limit counting per campaign until the transaction ends: on PostgreSQL a
    transaction-level advisory lock per campaign, taken in id order (no deadlock between
    dispatchers); on SQLite nothing — the ``BEGIN IMMEDIATE`` transaction is already the only
    writer. Taken before :func:`count_toward_daily_limit`, held until the claim commits, so
    several dispatchers never count the same allowance twice."""
    if not is_postgres(session):
        return
    for campaign_id in sorted(set(campaign_ids)):
        session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(DAILY_LIMIT_LOCK, campaign_id))
        ).all()


def count_due(session: Session, *, campaign_ids: Sequence[int], now: datetime) -> int:
    """Claimable messages of these campaigns due at ``now``."""
    return int(
        session.execute(
            sa.select(sa.func.count())
            .select_from(_MESSAGES)
            .where(
                _MESSAGES.c.campaign_id.in_(list(campaign_ids)),
                _MESSAGES.c.status.in_(_CLAIMABLE),
                _MESSAGES.c.due_at <= now,
            )
        ).scalar_one()
    )


# ------------------------------------------------------------------------------------------
# Claims


class DueRow(NamedTuple):
    """A claimable message due now, with its recipient's timezone (``None``: the campaign's)."""

    id: int
    status: str
    campaign_id: int
    contact_timezone: str | None


def due_rows(
    session: Session, *, now: datetime, campaign_ids: Sequence[int], limit: int, lock: bool
) -> list[DueRow]:
    """Up to ``limit`` claimable messages of ``campaign_ids`` with ``due_at <= now``, in due
    order. ``lock`` on PostgreSQL takes them ``FOR UPDATE SKIP LOCKED`` (rows another
    dispatcher is claiming are skipped, not waited for)."""
    query = (
        sa.select(_MESSAGES.c.id, _MESSAGES.c.status, _MESSAGES.c.campaign_id, Contact.timezone)
        .join(Contact, Contact.id == _MESSAGES.c.contact_id)
        .where(
            _MESSAGES.c.status.in_(_CLAIMABLE),
            _MESSAGES.c.due_at <= now,
            _MESSAGES.c.campaign_id.in_(list(campaign_ids)),
        )
        .order_by(_MESSAGES.c.due_at, _MESSAGES.c.id)
        .limit(limit)
    )
    if lock and is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=_MESSAGES)
    return [DueRow(*row) for row in session.execute(query)]


def move_due_at(session: Session, *, status: str, changes: Sequence[tuple[int, datetime]]) -> None:
    """Set each ``(id, due_at)`` on rows still in ``status`` (no state change: a message
    outside its window waits for the window's next opening)."""
    if not changes:
        return
    session.execute(
        sa.update(_MESSAGES)
        .where(_MESSAGES.c.id == sa.bindparam("w_id"), _MESSAGES.c.status == status)
        .values(due_at=sa.bindparam("v_due", type_=_MESSAGES.c.due_at.type)),
        [{"w_id": mid, "v_due": due} for mid, due in changes],
    )


#: The lease columns every move out of ``sending`` clears.
LEASE_CLEARED: Mapping[str, None] = MappingProxyType(
    {"lease_token": None, "lease_expires_at": None}
)


def claim_changes(
    *, now: datetime, owner: str, token: str, lease_expires_at: datetime
) -> dict[str, Any]:
    """The columns a claim sets (with the move to ``sending``): the lease, phase ``claimed``,
    one more attempt, and the first attempt's time when this is the first."""
    return {
        "lease_owner": owner,
        "lease_token": token,
        "lease_expires_at": lease_expires_at,
        "attempt_phase": AttemptPhase.CLAIMED.value,
        "attempts": _MESSAGES.c.attempts + 1,
        "first_attempt_at": sa.func.coalesce(
            _MESSAGES.c.first_attempt_at,
            sa.literal(now, type_=_MESSAGES.c.first_attempt_at.type),
        ),
    }


#: The column expressions that give a never-tried attempt back (with a move to ``approved``):
#: one attempt less, and no first attempt when it was the only one. Built once, so that the
#: statements using them are built once too.
RELEASE_CHANGES: Mapping[str, Any] = MappingProxyType(
    {
        "attempts": sa.case((_MESSAGES.c.attempts > 0, _MESSAGES.c.attempts - 1), else_=0),
        "first_attempt_at": sa.case(
            (_MESSAGES.c.attempts <= 1, sa.null()), else_=_MESSAGES.c.first_attempt_at
        ),
    }
)


def release_changes() -> Mapping[str, Any]:
    """:data:`RELEASE_CHANGES`."""
    return RELEASE_CHANGES


class ClaimCandidate(NamedTuple):
    """A claimable message due now, with everything its claim and its send-time checks read:
    its recipient's timezone (``None``: the campaign's) and its stored bytes, hashes, envelope
    and the day it was rendered for."""

    id: int
    status: str
    due_at: datetime
    campaign_id: int
    contact_id: int
    contact_timezone: str | None
    attempts: int
    first_attempt_at: datetime | None
    raw: bytes | None
    content_hash: str | None
    approved_hash: str | None
    envelope_from: str | None
    envelope_to: str | None
    rendered_for: date | None


def claim_candidates(
    session: Session, *, now: datetime, campaign_ids: Sequence[int], limit: int
) -> list[ClaimCandidate]:
    """Up to ``limit`` claimable messages of ``campaign_ids`` with ``due_at <= now``, in due
    order, loaded for their claim and checks — on PostgreSQL locked ``FOR UPDATE SKIP LOCKED``
    (rows another dispatcher is claiming are skipped, not waited for) until the claim commits.

    One query per claimable status, each walking the ``(status, due_at, id)`` index in order and
    stopping at ``limit`` (one query over both statuses would sort every due row first)."""
    lock = is_postgres(session)
    rows: list[ClaimCandidate] = []
    for status in _CLAIMABLE:
        params = {"status": status, "now": now, "campaigns": list(campaign_ids), "n": limit}
        rows += [ClaimCandidate(*r) for r in session.execute(_candidates_query(lock), params)]
    rows.sort(key=lambda r: (r.due_at, r.id))
    return rows[:limit]


@functools.cache
def _candidates_query(lock: bool) -> sa.Select[Any]:
    """The query of :func:`claim_candidates`, built once (``lock``: ``FOR UPDATE SKIP
    LOCKED``)."""
    query = (
        sa.select(
            _MESSAGES.c.id,
            _MESSAGES.c.status,
            _MESSAGES.c.due_at,
            _MESSAGES.c.campaign_id,
            _MESSAGES.c.contact_id,
            Contact.timezone,
            _MESSAGES.c.attempts,
            _MESSAGES.c.first_attempt_at,
            _BODIES.c.raw,
            _MESSAGES.c.content_hash,
            _MESSAGES.c.approved_hash,
            _MESSAGES.c.envelope_from,
            _MESSAGES.c.envelope_to,
            _MESSAGES.c.rendered_for,
        )
        .join(Contact, Contact.id == _MESSAGES.c.contact_id)
        .outerjoin(_BODIES, _BODIES.c.message_id == _MESSAGES.c.id)
        .where(
            _MESSAGES.c.status == sa.bindparam("status"),
            _MESSAGES.c.due_at <= sa.bindparam("now", type_=_MESSAGES.c.due_at.type),
            _MESSAGES.c.campaign_id.in_(sa.bindparam("campaigns", expanding=True)),
        )
        .order_by(_MESSAGES.c.due_at, _MESSAGES.c.id)
        .limit(sa.bindparam("n"))
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=_MESSAGES)
    return query


# ------------------------------------------------------------------------------------------
# Send-time loads


def enrollment_statuses(
    session: Session, *, contact_ids: Iterable[int], campaign_ids: Iterable[int]
) -> dict[tuple[int, int], str]:
    """``{(campaign id, contact id): status}`` for these contacts in these campaigns."""
    rows = session.execute(
        sa.select(Enrollment.campaign_id, Enrollment.contact_id, Enrollment.status).where(
            Enrollment.contact_id.in_(list(contact_ids)),
            Enrollment.campaign_id.in_(list(campaign_ids)),
        )
    )
    return {(cid, kid): status for cid, kid, status in rows}


def enrollment_of(session: Session, *, campaign_id: int, contact_id: int) -> Enrollment | None:
    """The contact's enrollment in the campaign, if any."""
    return session.execute(
        sa.select(Enrollment).where(
            Enrollment.campaign_id == campaign_id, Enrollment.contact_id == contact_id
        )
    ).scalar_one_or_none()


# ------------------------------------------------------------------------------------------
# Expired leases


class ExpiredLease(NamedTuple):
    """A ``sending`` row whose lease ran out, and how far its attempt got."""

    id: int
    lease_token: str
    attempt_phase: str | None


def expired_leases(session: Session, *, now: datetime) -> list[ExpiredLease]:
    """``sending`` rows with ``lease_expires_at < now`` (on PostgreSQL locked, skipping rows
    another sweeper holds)."""
    query = sa.select(_MESSAGES.c.id, _MESSAGES.c.lease_token, _MESSAGES.c.attempt_phase).where(
        _MESSAGES.c.status == MessageStatus.SENDING.value, _MESSAGES.c.lease_expires_at < now
    )
    if is_postgres(session):
        query = query.with_for_update(skip_locked=True)
    return [ExpiredLease(*row) for row in session.execute(query)]


# ------------------------------------------------------------------------------------------
# Preview and operator lookups


@dataclass(frozen=True)
class DuePreview:
    """One message ``outreach send --dry-run`` would send now."""

    id: int
    campaign: str
    to: str
    subject: str
    scheduled_for: datetime
    status: str


def due_previews(session: Session, *, ids: Sequence[int]) -> list[DuePreview]:
    """The preview of each message in ``ids``, in ``ids`` order."""
    out: list[DuePreview] = []
    for chunk in in_chunks(ids):
        rows = session.execute(
            sa.select(
                _MESSAGES.c.id,
                Campaign.slug,
                _MESSAGES.c.envelope_to,
                _MESSAGES.c.subject,
                _MESSAGES.c.scheduled_for,
                _MESSAGES.c.status,
            )
            .join(Campaign, Campaign.id == _MESSAGES.c.campaign_id)
            .where(_MESSAGES.c.id.in_(chunk))
        ).all()
        by_id = {
            mid: DuePreview(mid, slug, to or "", subject or "", scheduled_for, status)
            for mid, slug, to, subject, scheduled_for, status in rows
        }
        out += [by_id[mid] for mid in chunk]
    return out


def ids_in_status(session: Session, *, status: str, campaign: str | None = None) -> list[int]:
    """Ids of the messages in ``status`` (of the campaign named ``campaign``, if given), oldest
    scheduled first."""
    query = sa.select(_MESSAGES.c.id).where(_MESSAGES.c.status == status)
    if campaign is not None:
        query = query.join(Campaign, Campaign.id == _MESSAGES.c.campaign_id).where(
            Campaign.slug == campaign
        )
    query = query.order_by(_MESSAGES.c.scheduled_for, _MESSAGES.c.id)
    return [row[0] for row in session.execute(query)]


def get_message(session: Session, message_id: int) -> Message | None:
    """The message row with this id (``None`` when there is none)."""
    return session.get(Message, message_id)


def messages_by_id(session: Session, ids: Iterable[int]) -> dict[int, Message]:
    """The message rows with these ids that exist, by id."""
    found: dict[int, Message] = {}
    for chunk in in_chunks(list(dict.fromkeys(ids))):
        for message in session.execute(sa.select(Message).where(Message.id.in_(chunk))).scalars():
            assert message.id is not None
            found[message.id] = message
    return found


# ------------------------------------------------------------------------------------------
# What waits, and until when


class WaitRow(NamedTuple):
    """A message as :func:`outreach.dispatch.policy.next_try` reads it: its state and times,
    its recipient's timezone (``None``: the campaign's) and its last SMTP reply."""

    id: int
    campaign_id: int
    status: str
    due_at: datetime
    scheduled_for: datetime
    next_attempt_at: datetime | None
    contact_timezone: str | None
    last_reply: str | None


def _wait_query() -> sa.Select[Any]:
    return sa.select(
        _MESSAGES.c.id,
        _MESSAGES.c.campaign_id,
        _MESSAGES.c.status,
        _MESSAGES.c.due_at,
        _MESSAGES.c.scheduled_for,
        _MESSAGES.c.next_attempt_at,
        Contact.timezone,
        _MESSAGES.c.smtp_code,
        _MESSAGES.c.smtp_response,
    ).join(Contact, Contact.id == _MESSAGES.c.contact_id)


def _wait_row(row: sa.Row[Any]) -> WaitRow:
    reply = " ".join(str(p) for p in (row.smtp_code, row.smtp_response) if p is not None)
    return WaitRow(*row[:7], reply or None)


def wait_rows(session: Session, *, ids: Sequence[int]) -> list[WaitRow]:
    """The :class:`WaitRow` of each message in ``ids`` (any state)."""
    out: list[WaitRow] = []
    for chunk in in_chunks(list(ids)):
        rows = session.execute(_wait_query().where(_MESSAGES.c.id.in_(chunk)))
        out += [_wait_row(row) for row in rows]
    return out


def claimable_wait_rows(session: Session, *, campaign_ids: Sequence[int]) -> list[WaitRow]:
    """The :class:`WaitRow` of every claimable (``approved``/``retrying``) message of these
    campaigns, in due order."""
    query = _wait_query().where(
        _MESSAGES.c.status.in_(_CLAIMABLE), _MESSAGES.c.campaign_id.in_(list(campaign_ids))
    )
    rows = session.execute(query.order_by(_MESSAGES.c.due_at, _MESSAGES.c.id))
    return [_wait_row(row) for row in rows]
