"""Lease-guarded moves out of ``sending`` on PostgreSQL in one statement: the message rows, their
open ``attempt`` rows and the event rows of a whole batch, written by one ``UPDATE … FROM
unnest(…)`` with the attempt update and the event insert as data-modifying CTEs.

:func:`outreach.lifecycle.transition_owned` decides what is written (and runs the portable
form on SQLite: a lock, an executemany per table, an ``INSERT … SELECT`` of events); this
module only builds and runs PostgreSQL's statement. It writes the same rows: a message moves
only while it is still ``sending`` under the move's lease token (the ``UPDATE``'s own guard,
re-checked by PostgreSQL on a concurrent update), and only the moved messages get their attempt
finished and their event. The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Session

from outreach.models import Attempt, Event, Message
from outreach.repository.compiled import FastStatement
from outreach.repository.outbox import status_is
from outreach.states import MessageStatus

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_ATTEMPTS = Attempt.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_SENDING = MessageStatus.SENDING.value


@dataclass(frozen=True)
class OwnedMove:
    """One lease-guarded move out of ``sending``: the message, the lease token it must still
    hold, the column ``values`` to set, the event's ``reason``, and the columns to set on its
    open ``attempt`` row (``None``: leave it)."""

    message_id: int
    lease_token: str
    values: Mapping[str, Any]
    reason: str | None = None
    attempt: Mapping[str, Any] | None = None


def move_owned(
    session: Session,
    moves: Sequence[OwnedMove],
    *,
    to_state: str,
    now: datetime,
    actor: str,
    action: str,
    exprs: Mapping[str, Any] | None = None,
) -> set[int]:
    """Move ``moves`` from ``sending`` to ``to_state`` in one statement; the ids moved (the
    others lost their lease). Every move must carry the same ``values`` keys, and every
    non-``None`` ``attempt`` the same keys; ``exprs`` (long-lived column expressions) are set
    on every row."""
    if not moves:
        return set()
    keys = tuple(sorted(moves[0].values))
    attempt_keys = next((tuple(sorted(m.attempt)) for m in moves if m.attempt is not None), ())
    statement = _statement(keys, attempt_keys, tuple(sorted((exprs or {}).items())))
    params: dict[str, Any] = {
        "p_id": [m.message_id for m in moves],
        "p_tok": [m.lease_token for m in moves],
        "p_reason": [m.reason for m in moves],
        "p_fin": [m.attempt is not None for m in moves],
        "m_from": _SENDING,
        "m_to": to_state,
        "m_now": now,
        "e_actor": actor,
        "e_action": action,
        "e_data": {},
    }
    for k in keys:
        params[f"p_v_{k}"] = [m.values[k] for m in moves]
    for k in attempt_keys:
        params[f"p_a_{k}"] = [(m.attempt or {}).get(k) for m in moves]
    return {row[0] for row in statement.execute(session, params)}


@functools.lru_cache(maxsize=64)
def _statement(
    keys: tuple[str, ...], attempt_keys: tuple[str, ...], exprs: tuple[tuple[str, Any], ...]
) -> FastStatement:
    """The statement of :func:`move_owned`, built once per set of columns."""
    columns: list[tuple[str, Any]] = [
        ("id", _MESSAGES.c.id.type),
        ("tok", _MESSAGES.c.lease_token.type),
        ("reason", _EVENTS.c.reason.type),
        ("fin", sa.Boolean()),
        *((f"v_{k}", _MESSAGES.c[k].type) for k in keys),
        *((f"a_{k}", _ATTEMPTS.c[k].type) for k in attempt_keys),
    ]
    v = (
        sa.func.unnest(
            *(sa.bindparam(f"p_{name}", type_=postgresql.ARRAY(t)) for name, t in columns)
        )
        .table_valued(*(sa.column(name, t) for name, t in columns))
        .render_derived(name="v")
    )
    moved = (
        sa.update(_MESSAGES)
        .where(
            _MESSAGES.c.id == v.c.id,
            _MESSAGES.c.lease_token == v.c.tok,
            status_is(_SENDING),
        )
        .values(
            status=sa.bindparam("m_to", type_=_MESSAGES.c.status.type),
            updated_at=sa.bindparam("m_now", type_=_MESSAGES.c.updated_at.type),
            **{k: v.c[f"v_{k}"] for k in keys},
            **dict(exprs),
        )
        .returning(_MESSAGES.c.id)
        .cte("moved")
    )
    ctes: list[sa.CTE] = []
    if attempt_keys:
        finished = (
            sa.update(_ATTEMPTS)
            .where(
                _ATTEMPTS.c.message_id == v.c.id,
                _ATTEMPTS.c.lease_token == v.c.tok,
                _ATTEMPTS.c.finished_at.is_(None),
                v.c.fin,
                v.c.id.in_(sa.select(moved.c.id)),
            )
            .values(**{k: v.c[f"a_{k}"] for k in attempt_keys})
            .cte("finished")
        )
        ctes.append(finished)
    event_columns = ("at", "actor", "entity", "entity_id", "action", "from_state", "to_state")
    logged = (
        sa.insert(_EVENTS)
        .from_select(
            [*event_columns, "reason", "data"],
            sa.select(
                sa.bindparam("m_now", type_=_EVENTS.c.at.type),
                sa.bindparam("e_actor", type_=_EVENTS.c.actor.type),
                sa.literal("message", type_=_EVENTS.c.entity.type),
                moved.c.id,
                sa.bindparam("e_action", type_=_EVENTS.c.action.type),
                sa.bindparam("m_from", type_=_EVENTS.c.from_state.type),
                sa.bindparam("m_to", type_=_EVENTS.c.to_state.type),
                v.c.reason,
                sa.bindparam("e_data", type_=_EVENTS.c.data.type),
            ).select_from(moved.join(v, moved.c.id == v.c.id)),
        )
        .cte("logged")
    )
    ctes.append(logged)
    return FastStatement(sa.select(moved.c.id).add_cte(*ctes))
