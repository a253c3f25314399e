"""The one place a message (or an enrollment) changes state.

Each change is a compare-and-set (``UPDATE … WHERE id = :id AND status = :from`` — plus the
lease token for a dispatcher's updates) that fails loudly when no row matched, and writes its
``event`` row in the same transaction. The caller owns the transaction: nothing here commits.
The allowed moves are :data:`outreach.states.ALLOWED`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session

from outreach.errors import ConcurrentUpdate
from outreach.models import Enrollment, Event, Message
from outreach.states import EnrollmentStatus, MessageStatus, check_transition


def _event_row(
    *,
    now: datetime,
    actor: str,
    entity: str,
    entity_id: int,
    action: str,
    from_state: str | None,
    to_state: str | None,
    reason: str | None,
    data: Mapping[str, Any] | None,
) -> dict[str, Any]:
    return {
        "at": now,
        "actor": actor,
        "entity": entity,
        "entity_id": entity_id,
        "action": action,
        "from_state": from_state,
        "to_state": to_state,
        "reason": reason,
        "data": dict(data or {}),
    }


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
    session.execute(
        sa.insert(Event),
        [
            _event_row(
                now=now,
                actor=actor,
                entity=entity,
                entity_id=entity_id,
                action=action,
                from_state=from_state,
                to_state=to_state,
                reason=reason,
                data=data,
            )
        ],
    )


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
    """Move ``message`` to ``to``, setting ``changes`` on the row, and log the event.

    Refuses an illegal move (:class:`IllegalTransition`) and a row that another process changed
    meanwhile, or whose lease ``lease_token`` no longer holds (:class:`ConcurrentUpdate`).
    The in-memory ``message`` is updated to match the row.
    """
    current = MessageStatus(message.status)
    check_transition(current, to)
    assert message.id is not None
    values = {"status": to.value, "updated_at": now, **changes}
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
    record_event(
        session,
        now=now,
        actor=actor,
        entity="message",
        entity_id=message.id,
        action=action or to.value,
        from_state=current.value,
        to_state=to.value,
        reason=reason,
        data=data,
    )
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
    **changes: Any,
) -> list[int]:
    """Move every message in ``ids`` that is still in ``current`` to ``to`` (one statement),
    and log one event per moved row. Returns the ids actually moved (rows another process
    already moved are left alone)."""
    check_transition(current, to)
    if not ids:
        return []
    values = {"status": to.value, "updated_at": now, **changes}
    moved: list[int] = []
    for chunk in _chunks(ids, 500):
        rows = session.execute(
            sa.update(Message)
            .where(Message.id.in_(chunk), Message.status == current.value)
            .values(**values)
            .returning(Message.id)
            .execution_options(synchronize_session=False)
        ).all()
        moved.extend(r[0] for r in rows)
    if moved:
        session.execute(
            sa.insert(Event),
            [
                _event_row(
                    now=now,
                    actor=actor,
                    entity="message",
                    entity_id=mid,
                    action=action or to.value,
                    from_state=current.value,
                    to_state=to.value,
                    reason=reason,
                    data=data,
                )
                for mid in moved
            ],
        )
    return moved


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
    rows = []
    for mid, status, reason in created:
        check_transition(None, status)
        rows.append(
            _event_row(
                now=now,
                actor=actor,
                entity="message",
                entity_id=mid,
                action=action,
                from_state=None,
                to_state=status.value,
                reason=reason,
                data=None,
            )
        )
    if rows:
        session.execute(sa.insert(Event), rows)


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
    record_event(
        session,
        now=now,
        actor=actor,
        entity="enrollment",
        entity_id=enrollment.id,
        action=to.value,
        from_state=current.value,
        to_state=to.value,
        reason=reason,
        data=data,
    )
    return True


def _chunks(items: Sequence[int], size: int) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
