"""Attempt rows: the ``data_sent`` mark a message gets just before its DATA, the rows of
attempts that ended, and what the lease sweeper reads of them.

The mark is a narrow insert, not a message-row update: the message row keeps phase ``claimed``
while it is ``sending``, and :func:`data_sent_marks` is how the sweeper tells an attempt that
may have reached DATA from one that never did. The caller owns the transaction: nothing here
commits.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from outreach.db import is_postgres
from outreach.models import Attempt, Message
from outreach.repository.compiled import FastStatement
from outreach.repository.outbox import id_in, in_chunks, status_is
from outreach.states import AttemptPhase, MessageStatus

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_ATTEMPTS = Attempt.__table__  # type: ignore[attr-defined]


class InFlight(NamedTuple):
    """A claimed message about to reach DATA: its id, the lease token it is held under, its
    attempt number and when that attempt was claimed."""

    message_id: int
    lease_token: str
    attempt: int
    started_at: datetime


def mark_data_sent(session: Session, *, marks: Sequence[InFlight], now: datetime) -> set[int]:
    """Record that each attempt in ``marks`` may reach DATA: one ``attempt`` row, phase
    ``data_sent``, for each message still ``sending`` under that lease token with its lease
    not expired at ``now``. Returns the ids marked; the others must not be sent.

    A narrow insert instead of a message-row update: the message row keeps phase ``claimed``
    and :func:`data_sent_marks` is what the sweeper reads. On PostgreSQL the message rows are
    locked ``FOR UPDATE`` (until commit) so that a sweeper — which locks expired rows before it
    reads their marks — either sees this mark or has already taken the row and this mark
    finds nothing (DESIGN.md rule 2)."""
    marked: set[int] = set()
    by_token: dict[tuple[str, datetime], list[InFlight]] = {}
    for m in marks:
        by_token.setdefault((m.lease_token, m.started_at), []).append(m)
    insert = _mark_insert(is_postgres(session))
    for (token, started_at), group in by_token.items():
        for chunk in in_chunks([m.message_id for m in group]):
            params = {"ids": list(chunk), "tok": token, "started": started_at, "now": now}
            marked.update(row[0] for row in insert.execute(session, params))
    return marked


@functools.cache
def _mark_insert(postgres: bool) -> FastStatement:
    """The statement of :func:`mark_data_sent`, built once per dialect (PostgreSQL: the rows
    locked ``FOR UPDATE``)."""
    query = sa.select(
        _MESSAGES.c.id,
        _MESSAGES.c.attempts,
        _MESSAGES.c.lease_token,
        sa.bindparam("started", type_=_ATTEMPTS.c.started_at.type),
        sa.literal(AttemptPhase.DATA_SENT.value),
    ).where(
        id_in(_MESSAGES.c.id, "ids", postgres=postgres),
        _MESSAGES.c.lease_token == sa.bindparam("tok"),
        status_is(MessageStatus.SENDING.value),
        _MESSAGES.c.lease_expires_at > sa.bindparam("now", type_=_MESSAGES.c.lease_expires_at.type),
    )
    if postgres:
        query = query.with_for_update()
    return FastStatement(
        sa.insert(_ATTEMPTS)
        .from_select(["message_id", "number", "lease_token", "started_at", "phase"], query)
        .returning(_ATTEMPTS.c.message_id)
    )


def insert_finished_attempts(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert whole ``attempt`` rows (message_id, number, lease_token, started_at, finished_at,
    phase, outcome, smtp_code, smtp_response): attempts that ended before DATA, which have no
    ``data_sent`` row to finish."""
    if rows:
        session.execute(sa.insert(_ATTEMPTS), [dict(r) for r in rows])


def finish_attempts(
    session: Session, *, finished: Sequence[tuple[int, str, Mapping[str, Any]]]
) -> None:
    """Set the columns of each ``(message id, lease token, columns)`` on its open attempt row
    (same lease token, not yet finished), in one executemany. Every entry must carry the same
    column keys."""
    if not finished:
        return
    keys = tuple(sorted(finished[0][2]))
    _attempt_update(keys).executemany(
        session,
        [
            {"w_id": mid, "w_tok": token, **{f"v_{k}": columns[k] for k in keys}}
            for mid, token, columns in finished
        ],
    )


@functools.lru_cache(maxsize=16)
def _attempt_update(keys: tuple[str, ...]) -> FastStatement:
    """The statement of :func:`finish_attempts`, built once per set of columns."""
    return FastStatement(
        sa.update(_ATTEMPTS)
        .where(
            _ATTEMPTS.c.message_id == sa.bindparam("w_id"),
            _ATTEMPTS.c.lease_token == sa.bindparam("w_tok"),
            _ATTEMPTS.c.finished_at.is_(None),
        )
        .values(**{k: sa.bindparam(f"v_{k}", type_=_ATTEMPTS.c[k].type) for k in keys})
    )


def data_sent_marks(session: Session, *, held: Sequence[tuple[int, str]]) -> set[int]:
    """The ids among ``held`` ``(message id, lease token)`` whose attempt under that token may
    have reached DATA: a ``data_sent`` attempt row (:func:`mark_data_sent`), or — rows marked by
    an earlier version of outreach — the message's own phase ``data_sent``.

    Read in its own statement *after* :func:`expired_leases` has locked the rows, so that on
    PostgreSQL a mark committed just before the lock was taken is visible here."""
    tokens = dict(held)
    found: set[int] = set()
    for chunk in in_chunks(list(tokens)):
        rows = session.execute(
            sa.select(_ATTEMPTS.c.message_id, _ATTEMPTS.c.lease_token).where(
                _ATTEMPTS.c.message_id.in_(chunk),
                _ATTEMPTS.c.phase == AttemptPhase.DATA_SENT.value,
            )
        )
        found.update(mid for mid, token in rows if tokens.get(mid) == token)
        legacy = session.execute(
            sa.select(_MESSAGES.c.id, _MESSAGES.c.lease_token).where(
                _MESSAGES.c.id.in_(chunk),
                _MESSAGES.c.attempt_phase == AttemptPhase.DATA_SENT.value,
            )
        )
        found.update(mid for mid, token in legacy if tokens.get(mid) == token)
    return found
