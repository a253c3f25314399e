"""The audit log (``event``): the rows :mod:`outreach.lifecycle` appends with every state change
(one statement per batch), and the reads that undo an automatic effect (what moved an
enrollment, so that reclassifying a reply can move it back).

Appending goes through :mod:`outreach.lifecycle` (which decides what is logged); this module
only runs the statements. The caller owns the transaction: nothing here commits.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from outreach.db import is_postgres
from outreach.models import Enrollment, Event, Message
from outreach.repository.bulk import insert_unnest
from outreach.repository.compiled import FastStatement
from outreach.repository.outbox import id_in, in_chunks

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_ENROLLMENT = Enrollment.__table__  # type: ignore[attr-defined]
#: The event insert, built once (the dispatcher writes events every round).
_EVENT_INSERT = sa.insert(_EVENTS)

# ------------------------------------------------------------------------------------------
# Appending


def insert_events(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert whole event rows (at, actor, entity, entity_id, action, from_state, to_state,
    reason, data), in one statement (on PostgreSQL one array per column,
    :func:`~outreach.repository.bulk.insert_unnest`)."""
    if not rows:
        return
    if is_postgres(session):
        insert_unnest(session, _EVENTS, rows)
    else:
        session.execute(_EVENT_INSERT, [dict(r) for r in rows])


def insert_message_events(
    session: Session,
    ids: Sequence[int],
    *,
    at: datetime,
    actor: str,
    action: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None,
    data: Mapping[str, Any] | None = None,
) -> None:
    """The same event for each of the messages ``ids``: one ``INSERT … SELECT`` per 500 ids,
    with no per-row parameters."""
    statement = _events_for_messages(is_postgres(session))
    for chunk in in_chunks(list(ids)):
        params = {
            "ids": list(chunk),
            "at": at,
            "actor": actor,
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "reason": reason,
            "data": dict(data or {}),
        }
        statement.execute(session, params)


@functools.cache
def _events_for_messages(postgres: bool) -> FastStatement:
    """``INSERT INTO event … SELECT … FROM message WHERE id IN :ids``: the same event for each
    of the messages ``ids``, built once per dialect."""
    same = ("action", "from_state", "to_state", "reason", "data")

    def param(name: str) -> sa.BindParameter[Any]:
        return sa.bindparam(name, type_=_EVENTS.c[name].type)

    rows = sa.select(
        param("at"),
        param("actor"),
        sa.literal("message"),
        _MESSAGES.c.id,
        *(param(c) for c in same),
    ).where(id_in(_MESSAGES.c.id, "ids", postgres=postgres))
    return FastStatement(
        sa.insert(_EVENTS).from_select(["at", "actor", "entity", "entity_id", *same], rows)
    )


# ------------------------------------------------------------------------------------------
# Reading


class EnrollmentMove(NamedTuple):
    """One recorded move of an enrollment: the event, the enrollment, from which state to
    which, the event's data, and whether it is still the enrollment's latest move (nothing
    moved it since)."""

    event_id: int
    enrollment_id: int
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]
    latest: bool


def _moves_of(entity: str, ids: Sequence[int]) -> sa.Select[Any]:
    """The events of the ``entity`` rows ``ids``, oldest first: id, entity id, action, from
    which state to which, data."""
    return (
        sa.select(
            _EVENTS.c.id,
            _EVENTS.c.entity_id,
            _EVENTS.c.action,
            _EVENTS.c.from_state,
            _EVENTS.c.to_state,
            _EVENTS.c.data,
        )
        .where(_EVENTS.c.entity == entity, _EVENTS.c.entity_id.in_(ids))
        .order_by(_EVENTS.c.id)
    )


def enrollment_moves(session: Session, *, contact_id: int) -> list[EnrollmentMove]:
    """Every recorded move of the contact's enrollments, oldest first, each marked
    ``latest`` when no later event touched that enrollment."""
    enrollment_ids = list(
        session.execute(sa.select(_ENROLLMENT.c.id).where(_ENROLLMENT.c.contact_id == contact_id))
        .scalars()
        .all()
    )
    if not enrollment_ids:
        return []
    rows = session.execute(_moves_of("enrollment", enrollment_ids)).all()
    last: dict[int, int] = {}
    for row in rows:
        last[row.entity_id] = row.id
    return [
        EnrollmentMove(
            row.id,
            row.entity_id,
            row.from_state,
            row.to_state,
            row.data if isinstance(row.data, dict) else {},
            last[row.entity_id] == row.id,
        )
        for row in rows
    ]


class MessageEvent(NamedTuple):
    """The latest recorded change of one message: the event, the message, its action, from
    which state to which, and the event's data."""

    event_id: int
    message_id: int
    action: str
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]


def latest_message_events(session: Session, *, message_ids: Sequence[int]) -> list[MessageEvent]:
    """The latest event of each message in ``message_ids`` that has one, by message id."""
    latest: dict[int, MessageEvent] = {}
    for chunk in in_chunks(list(message_ids)):
        rows = session.execute(_moves_of("message", chunk))
        for row in rows:
            data = row.data if isinstance(row.data, dict) else {}
            latest[row.entity_id] = MessageEvent(
                row.id, row.entity_id, row.action, row.from_state, row.to_state, data
            )
    return [latest[mid] for mid in sorted(latest)]
