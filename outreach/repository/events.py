"""Reads of the audit log (``event``): what moved an enrollment, and what last changed a
message, so that an automatic effect can be undone.

Appending events is :mod:`outreach.lifecycle`'s job; this module only reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from outreach.models import Enrollment, Event
from outreach.repository.outbox import in_chunks

_EVENT = Event.__table__  # type: ignore[attr-defined]
_ENROLLMENT = Enrollment.__table__  # type: ignore[attr-defined]


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
    rows = session.execute(
        sa.select(
            _EVENT.c.id, _EVENT.c.entity_id, _EVENT.c.from_state, _EVENT.c.to_state, _EVENT.c.data
        )
        .where(_EVENT.c.entity == "enrollment", _EVENT.c.entity_id.in_(enrollment_ids))
        .order_by(_EVENT.c.id)
    ).all()
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
        rows = session.execute(
            sa.select(
                _EVENT.c.id,
                _EVENT.c.entity_id,
                _EVENT.c.action,
                _EVENT.c.from_state,
                _EVENT.c.to_state,
                _EVENT.c.data,
            )
            .where(_EVENT.c.entity == "message", _EVENT.c.entity_id.in_(chunk))
            .order_by(_EVENT.c.id)
        )
        for row in rows:
            data = row.data if isinstance(row.data, dict) else {}
            latest[row.entity_id] = MessageEvent(
                row.id, row.entity_id, row.action, row.from_state, row.to_state, data
            )
    return [latest[mid] for mid in sorted(latest)]
