"""The one place a message (or an enrollment) changes state.

Each change is a compare-and-set (``UPDATE … WHERE id = :id AND status = :from`` — plus the
lease token for a dispatcher's updates) that fails loudly when no row matched, and writes its
``event`` row in the same transaction. The caller owns the transaction: nothing here commits.
The allowed moves are :data:`outreach.states.ALLOWED`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from outreach.db import is_postgres
from outreach.errors import ConcurrentUpdate
from outreach.models import Enrollment, Message
from outreach.repository.attempts import finish_attempts
from outreach.repository.bodies import split, update_bodies
from outreach.repository.compiled import FastStatement
from outreach.repository.events import insert_events, insert_message_events
from outreach.repository.outbox import id_in, in_chunks, status_is
from outreach.repository.owned_moves import OwnedMove, move_owned
from outreach.states import EnrollmentStatus, MessageStatus, check_transition

_MESSAGES = Message.__table__  # type: ignore[attr-defined]


@dataclass
class _Events:
    """Event rows written in one statement: when (``now``) and who (``actor``) once, then a
    row per change."""

    now: datetime
    actor: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(
        self,
        entity: str,
        entity_id: int,
        action: str,
        *,
        moved: tuple[str | None, str | None] = (None, None),
        reason: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        """One row: ``entity`` ``entity_id`` did ``action``, ``moved`` (from, to) state."""
        from_state, to_state = moved
        self.rows.append(
            {
                "at": self.now,
                "actor": self.actor,
                "entity": entity,
                "entity_id": entity_id,
                "action": action,
                "from_state": from_state,
                "to_state": to_state,
                "reason": reason,
                "data": dict(data or {}),
            }
        )

    def add_moves(
        self,
        moved: Iterable[tuple[int, str | None]],
        *,
        action: str,
        states: tuple[MessageStatus, MessageStatus],
        data: Mapping[str, Any] | None = None,
    ) -> _Events:
        """A row per moved message ``(id, reason)``, from ``states[0]`` to ``states[1]``."""
        from_state, to_state = (state.value for state in states)
        for mid, reason in moved:
            self.add("message", mid, action, moved=(from_state, to_state), reason=reason, data=data)
        return self

    def write(self, session: Session) -> None:
        """Insert the rows (nothing when there are none)."""
        insert_events(session, self.rows)


def record_event(
    session: Session,
    *,
    now: datetime,
    actor: str,
    entity: str,
    entity_id: int,
    action: str,
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
) -> None:
    """Append one audit row that is not a state change (a load, a pause, an approval...)."""
    events = _Events(now, actor)
    events.add(entity, entity_id, action, moved=(from_state, to_state), reason=reason, data=data)
    events.write(session)


def transition(
    session: Session,
    message: Message,
    to: MessageStatus,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
    lease_token: str | None = None,
    action: str | None = None,
    **changes: Any,
) -> Message:
    """Move ``message`` to ``to``, setting ``changes`` on the row (``text``, ``html`` and
    ``raw`` on its body), and log the event.

    Refuses an illegal move (:class:`IllegalTransition`) and a row that another process changed
    meanwhile, or whose lease ``lease_token`` no longer holds (:class:`ConcurrentUpdate`).
    The in-memory ``message`` is updated to match the row.
    """
    current = MessageStatus(message.status)
    check_transition(current, to)
    assert message.id is not None
    values, body = split({"status": to.value, "updated_at": now, **changes})
    stmt = sa.update(Message).where(Message.id == message.id, Message.status == current.value)
    if lease_token is not None:
        stmt = stmt.where(Message.lease_token == lease_token)
    result = session.execute(stmt.values(**values).execution_options(synchronize_session=False))
    if result.rowcount != 1:
        raise ConcurrentUpdate(
            f"message {message.id} is no longer {current.value}"
            + (" under this lease" if lease_token else "")
            + f"; not moved to {to.value}"
        )
    for key, value in values.items():
        set_committed_value(message, key, value)
    if body:
        update_bodies(session, ids=[message.id], values=body)
        for key, value in body.items():
            set_committed_value(message.body, key, value)
    _Events(now, actor).add_moves(
        [(message.id, reason)], action=action or to.value, states=(current, to), data=data
    ).write(session)
    return message


def transition_many(
    session: Session,
    ids: Sequence[int],
    *,
    current: MessageStatus,
    to: MessageStatus,
    now: datetime,
    actor: str,
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
    action: str | None = None,
    data_by_id: Mapping[int, Mapping[str, Any]] | None = None,
    **changes: Any,
) -> list[int]:
    """Move every message in ``ids`` that is still in ``current`` to ``to`` (one statement),
    and log one event per moved row (its data: ``data``, with the row's own ``data_by_id``
    entry over it). Returns the ids actually moved (rows another process already moved are
    left alone)."""
    check_transition(current, to)
    if not ids:
        return []
    values = {"status": to.value, "updated_at": now, **changes}
    moved: list[int] = []
    for chunk in in_chunks(ids):
        rows = session.execute(
            sa.update(_MESSAGES)
            .where(_MESSAGES.c.id.in_(chunk), status_is(current.value))
            .values(**values)
            .returning(_MESSAGES.c.id)
        ).all()
        moved.extend(r[0] for r in rows)
    if data_by_id:  # a different event per message: one multi-row insert
        events = _Events(now, actor)
        for mid in moved:
            events.add(
                "message",
                mid,
                action or to.value,
                moved=(current.value, to.value),
                reason=reason,
                data={**(data or {}), **(data_by_id or {}).get(mid, {})},
            )
        events.write(session)
        return moved
    _log_moves(
        session,
        [(mid, reason) for mid in moved],
        now=now,
        actor=actor,
        action=action or to.value,
        current=current,
        to=to,
        data=data,
    )
    return moved


def _log_moves(
    session: Session,
    moved: Sequence[tuple[int, str | None]],
    *,
    now: datetime,
    actor: str,
    action: str,
    current: MessageStatus,
    to: MessageStatus,
    data: Mapping[str, Any] | None = None,
) -> None:
    """One event row per moved message ``(id, reason)``: one ``INSERT … SELECT`` per distinct
    reason (the common case: one for the whole batch, no per-row parameters), else one
    multi-row insert."""
    if not moved:
        return
    by_reason: dict[str | None, list[int]] = {}
    for mid, reason in moved:
        by_reason.setdefault(reason, []).append(mid)
    if len(by_reason) <= 2:
        for reason, ids in by_reason.items():
            insert_message_events(
                session,
                ids,
                at=now,
                actor=actor,
                action=action,
                from_state=current.value,
                to_state=to.value,
                reason=reason,
                data=data,
            )
        return
    _Events(now, actor).add_moves(moved, action=action, states=(current, to), data=data).write(
        session
    )


def record_created(
    session: Session,
    created: Iterable[tuple[int, MessageStatus, str | None]],
    *,
    now: datetime,
    actor: str,
    action: str = "planned",
) -> None:
    """Log the creation of planned messages: (id, initial status, reason) each.

    The planner inserts rows in bulk in their initial state; this checks each initial state is
    a legal first state and writes the events in one statement.
    """
    events = _Events(now, actor)
    for mid, status, reason in created:
        check_transition(None, status)
        events.add("message", mid, action, moved=(None, status.value), reason=reason)
    events.write(session)


def set_enrollment_status(
    session: Session,
    enrollment: Enrollment,
    to: EnrollmentStatus,
    *,
    now: datetime,
    actor: str,
    reason: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> bool:
    """Set an enrollment's status (compare-and-set) and log it. Returns False when it already
    had that status. ``replied``/``bounced``/``unsubscribed`` are never undone by a later
    ``completed``."""
    current = EnrollmentStatus(enrollment.status)
    if current == to:
        return False
    if to == EnrollmentStatus.COMPLETED and current != EnrollmentStatus.ACTIVE:
        return False
    assert enrollment.id is not None
    result = session.execute(
        sa.update(Enrollment)
        .where(Enrollment.id == enrollment.id, Enrollment.status == current.value)
        .values(status=to.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise ConcurrentUpdate(f"enrollment {enrollment.id} changed meanwhile")
    set_committed_value(enrollment, "status", to.value)
    set_committed_value(enrollment, "updated_at", now)
    events = _Events(now, actor)
    events.add(
        "enrollment",
        enrollment.id,
        to.value,
        moved=(current.value, to.value),
        reason=reason,
        data=data,
    )
    events.write(session)
    return True


def transition_owned(
    session: Session,
    moves: Sequence[OwnedMove],
    *,
    to: MessageStatus,
    now: datetime,
    actor: str,
    action: str | None = None,
    exprs: Mapping[str, Any] | None = None,
) -> list[OwnedMove]:
    """Move ``sending`` rows still held under their lease token to ``to`` — the lease-guarded
    bulk form of :func:`outreach.lifecycle.transition` (same checks, same event rows).

    On PostgreSQL one statement (:mod:`outreach.repository.owned_moves`) whose ``UPDATE`` is
    guarded by status and token; on SQLite, inside the single-writer transaction, the rows
    still held are read, then updated (again guarded by status and token), their attempts
    finished and their events written. Every move must carry the same value keys; ``exprs`` are
    column expressions set on every row. Returns the moves applied; the rest lost their lease.
    """
    check_transition(MessageStatus.SENDING, to)
    if not moves:
        return []
    if is_postgres(session):  # the same writes, in one statement
        moved = move_owned(
            session,
            moves,
            to_state=to.value,
            now=now,
            actor=actor,
            action=action or to.value,
            exprs=exprs,
        )
        return [m for m in moves if m.message_id in moved]
    owned = _held_leases(session, [m.message_id for m in moves])
    mine = [m for m in moves if (m.message_id, m.lease_token) in owned]
    if not mine:
        return []
    _update_owned(session, mine, to=to, now=now, exprs=exprs)
    finish_attempts(
        session,
        finished=[(m.message_id, m.lease_token, m.attempt) for m in mine if m.attempt is not None],
    )
    _log_moves(
        session,
        [(m.message_id, m.reason) for m in mine],
        now=now,
        actor=actor,
        action=action or to.value,
        current=MessageStatus.SENDING,
        to=to,
    )
    return mine


def _held_leases(session: Session, ids: Sequence[int]) -> set[tuple[int, str]]:
    """``(id, lease token)`` of the ``sending`` rows among ``ids`` (SQLite: the single-writer
    transaction keeps them so until it ends)."""
    held: set[tuple[int, str]] = set()
    for chunk in in_chunks(ids):
        held.update((row[0], row[1]) for row in _HELD.execute(session, {"ids": list(chunk)}))
    return held


#: The query of :func:`_held_leases`, built once.
_HELD = FastStatement(
    sa.select(_MESSAGES.c.id, _MESSAGES.c.lease_token).where(
        id_in(_MESSAGES.c.id, "ids", postgres=False), status_is(MessageStatus.SENDING.value)
    )
)


def _update_owned(
    session: Session,
    moves: Sequence[OwnedMove],
    *,
    to: MessageStatus,
    now: datetime,
    exprs: Mapping[str, Any] | None,
) -> None:
    """The compare-and-set of :func:`transition_owned` on SQLite, one executemany: each row
    moves only while it is still ``sending`` under the move's token."""
    keys = tuple(sorted(moves[0].values))
    stmt = _owned_update(to.value, keys, tuple(sorted((exprs or {}).items())))
    stmt.executemany(
        session,
        [
            {
                "w_id": m.message_id,
                "w_tok": m.lease_token,
                "w_now": now,
                **{f"v_{k}": m.values[k] for k in keys},
            }
            for m in moves
        ],
    )


@functools.lru_cache(maxsize=64)
def _owned_update(
    to: str, keys: tuple[str, ...], exprs: tuple[tuple[str, Any], ...]
) -> FastStatement:
    """The statement of :func:`_update_owned`, built once per target, value columns and column
    expressions (these must be long-lived objects, such as
    :data:`outreach.repository.outbox.RELEASE_CHANGES`)."""
    return FastStatement(
        sa.update(_MESSAGES)
        .where(
            _MESSAGES.c.id == sa.bindparam("w_id"),
            _MESSAGES.c.lease_token == sa.bindparam("w_tok"),
            status_is(MessageStatus.SENDING.value),
        )
        .values(
            status=to,
            updated_at=sa.bindparam("w_now", type_=_MESSAGES.c.updated_at.type),
            **{k: sa.bindparam(f"v_{k}", type_=_MESSAGES.c[k].type) for k in keys},
            **dict(exprs),
        )
    )


_ENROLLMENTS = Enrollment.__table__  # type: ignore[attr-defined]


@functools.cache
def _enrollment_move(postgres: bool) -> sa.Update:
    """The compare-and-set of :func:`set_enrollment_status_many`, built once per dialect: the
    enrollments ``ids`` still in ``w_status`` move to ``v_status`` (on PostgreSQL the ids are
    one array, ``= ANY(:ids)``, so the statement's text does not change with their number)."""
    return (
        sa.update(_ENROLLMENTS)
        .where(
            id_in(_ENROLLMENTS.c.id, "ids", postgres=postgres),
            _ENROLLMENTS.c.status == sa.bindparam("w_status"),
        )
        .values(
            status=sa.bindparam("v_status"),
            updated_at=sa.bindparam("v_now", type_=_ENROLLMENTS.c.updated_at.type),
        )
        .returning(_ENROLLMENTS.c.id)
    )


def set_enrollment_status_many(
    session: Session,
    changes: Sequence[tuple[Enrollment, EnrollmentStatus, int, str]],
    *,
    now: datetime,
    actor: str,
) -> None:
    """The bulk form of :func:`outreach.lifecycle.set_enrollment_status` (same compare-and-set,
    same event rows, a few statements for a whole batch): each ``(enrollment, to, inbound id,
    reason)``. Raises :class:`ConcurrentUpdate` when a row changed meanwhile."""
    groups: dict[tuple[str, str], list[tuple[Enrollment, int, str]]] = {}
    for enr, to, iid, why in changes:
        if to == EnrollmentStatus(enr.status):
            continue
        groups.setdefault((enr.status, to.value), []).append((enr, iid, why))
    events = _Events(now, actor)
    statement = _enrollment_move(is_postgres(session))
    for (current, to), members in groups.items():
        ids = [enr.id for enr, _, _ in members]
        moved: set[int] = set()
        for chunk in in_chunks(ids):
            params = {"ids": list(chunk), "w_status": current, "v_status": to, "v_now": now}
            moved.update(row[0] for row in session.execute(statement, params))
        if len(moved) != len(ids):
            raise ConcurrentUpdate(f"{len(ids) - len(moved)} enrollment(s) changed meanwhile")
        for enr, iid, why in members:
            set_committed_value(enr, "status", to)
            set_committed_value(enr, "updated_at", now)
            assert enr.id is not None
            events.add(
                "enrollment", enr.id, to, moved=(current, to), reason=why, data={"inbound_id": iid}
            )
    events.write(session)
