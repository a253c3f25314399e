"""Erasure's rows: what is held about given people, and the statements that empty it.

Every function takes the caller's session and leaves the transaction to it (an erasure is
one transaction). Message, enrollment and event rows are kept — emptied of what identifies
the person — so that the funnel's counts and the audit trail's shape survive; the contact row
becomes a tombstone (``erased_at`` set, every field empty, a placeholder address).
State changes are not made here (see :mod:`outreach.privacy.erase`, which cancels through
:mod:`outreach.lifecycle`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from outreach.db import is_postgres
from outreach.models import Approval, Attempt, Contact, Enrollment, Event, JobRun, Message
from outreach.models import Suppression as SuppressionRow
from outreach.repository.bodies import EMPTY_BODY, update_bodies
from outreach.repository.bulk import update_by_id
from outreach.repository.outbox import in_chunks
from outreach.states import MessageStatus

_MESSAGES = Message.__table__  # type: ignore[attr-defined]
_EVENTS = Event.__table__  # type: ignore[attr-defined]
_CONTACTS = Contact.__table__  # type: ignore[attr-defined]

#: The placeholder address of an erased contact's row: never deliverable (RFC 2606 .invalid).
TOMBSTONE_DOMAIN = "erased.invalid"


class HeldMessage(NamedTuple):
    """One letter to a person being erased: its id and state."""

    id: int
    status: str


class EventText(NamedTuple):
    """The free text of one event row."""

    id: int
    entity: str
    entity_id: int
    reason: str | None
    data: dict[str, Any]


def tombstone_email(contact_id: int) -> str:
    """The address an erased contact's row keeps (unique, undeliverable, says nothing)."""
    return f"erased-{contact_id}@{TOMBSTONE_DOMAIN}"


@contextmanager
def secure_delete(session: Session) -> Iterator[None]:
    """On SQLite, have this session's connection overwrite what it deletes or replaces with
    zeros (``PRAGMA secure_delete``) for the block; nothing on PostgreSQL."""
    if is_postgres(session):
        yield
        return
    connection = session.connection()
    connection.exec_driver_sql("PRAGMA secure_delete = ON")
    try:
        yield
    finally:
        connection.exec_driver_sql("PRAGMA secure_delete = OFF")


def live_contacts(session: Session, *, emails: Sequence[str]) -> list[Contact]:
    """The contacts (not already erased) with these addresses."""
    return list(
        session.exec(
            select(Contact).where(
                col(Contact.email).in_(list(emails)), col(Contact.erased_at).is_(None)
            )
        )
    )


def messages_of(session: Session, *, contact_ids: Sequence[int]) -> list[HeldMessage]:
    """Every letter to these contacts, by id."""
    if not contact_ids:
        return []
    query = (
        sa.select(_MESSAGES.c.id, _MESSAGES.c.status)
        .where(_MESSAGES.c.contact_id.in_(list(contact_ids)))
        .order_by(_MESSAGES.c.id)
    )
    return [HeldMessage(*row) for row in session.execute(query)]


def enrollment_ids_of(session: Session, *, contact_ids: Sequence[int]) -> list[int]:
    """The enrollments of these contacts."""
    if not contact_ids:
        return []
    query = select(Enrollment.id).where(col(Enrollment.contact_id).in_(list(contact_ids)))
    return [i for i in session.exec(query) if i is not None]


def empty_messages(session: Session, *, ids: Sequence[int], now: datetime) -> int:
    """Remove every word of these letters (bytes, subject, bodies, render context, hashes,
    recipient, server replies, approval notes, attempt replies) and the hash of their one-click
    unsubscribe token (the link in the person's copy then leads nowhere); their state, times
    and counts stay. Returns how many letters."""
    for chunk in in_chunks(list(ids)):
        session.execute(
            sa.update(_MESSAGES)
            .where(_MESSAGES.c.id.in_(chunk))
            .values(
                subject="",
                render_context={},
                render_error=None,
                content_hash=None,
                approved_hash=None,
                envelope_to=None,
                smtp_response=None,
                stale_reason=None,
                unsubscribe_token_hash=None,
                updated_at=now,
            )
        )
        update_bodies(session, ids=chunk, values=EMPTY_BODY)
        session.execute(
            sa.update(Approval).where(col(Approval.message_id).in_(chunk)).values(note=None)
        )
        session.execute(
            sa.update(Attempt).where(col(Attempt.message_id).in_(chunk)).values(smtp_response=None)
        )
    return len(ids)


def unsent_states() -> tuple[str, ...]:
    """The states an erasure cancels a letter from: not sent, or not known to be."""
    return tuple(
        s.value
        for s in (
            MessageStatus.PENDING_REVIEW,
            MessageStatus.RENDER_ERROR,
            MessageStatus.APPROVED,
            MessageStatus.RETRYING,
            MessageStatus.UNKNOWN,
        )
    )


def event_pages(session: Session, *, size: int = 2000) -> Iterator[list[EventText]]:
    """Every event's free text, ``size`` rows at a time by id."""
    after = 0
    while True:
        query = (
            sa.select(
                _EVENTS.c.id,
                _EVENTS.c.entity,
                _EVENTS.c.entity_id,
                _EVENTS.c.reason,
                _EVENTS.c.data,
            )
            .where(_EVENTS.c.id > after)
            .order_by(_EVENTS.c.id)
            .limit(size)
        )
        page = [EventText(r[0], r[1], r[2], r[3], dict(r[4] or {})) for r in session.execute(query)]
        if not page:
            return
        yield page
        after = page[-1].id


def rewrite_events(session: Session, *, texts: Sequence[EventText]) -> None:
    """Set the reason and data of each event in ``texts`` (the rest of the row stays)."""
    update_by_id(
        session,
        _EVENTS,
        [{"w_id": t.id, "v_reason": t.reason, "v_data": t.data} for t in texts],
        reason=sa.bindparam("v_reason"),
        data=sa.bindparam("v_data", type_=sa.JSON),
    )


def approval_notes(session: Session) -> dict[int, str]:
    """The note of every approval that has one, by row id."""
    query = select(Approval.id, Approval.note).where(col(Approval.note).is_not(None))
    return {row[0]: row[1] for row in session.exec(query) if row[0] is not None}


def set_approval_notes(session: Session, *, notes: Mapping[int, str | None]) -> None:
    """Replace the note of these approvals."""
    for approval_id, note in notes.items():
        session.execute(
            sa.update(Approval).where(col(Approval.id) == approval_id).values(note=note)
        )


def job_details(session: Session) -> dict[int, str]:
    """The detail line of every daemon job run, by row id."""
    query = select(JobRun.id, JobRun.detail).where(col(JobRun.detail).is_not(None))
    return {row[0]: row[1] for row in session.exec(query) if row[0] is not None}


def set_job_details(session: Session, *, details: Mapping[int, str | None]) -> None:
    """Replace the detail line of these job runs."""
    for run_id, detail in details.items():
        session.execute(sa.update(JobRun).where(col(JobRun.id) == run_id).values(detail=detail))


def erased_tokens(session: Session) -> list[str]:
    """Every erasure token in the suppression list."""
    query = select(SuppressionRow.email).where(col(SuppressionRow.email).startswith("erased:"))
    return list(session.exec(query))


def make_tombstones(session: Session, *, contact_ids: Sequence[int], now: datetime) -> None:
    """Empty these contact rows for good: a placeholder address, no name, titles, tags or
    fields, ``erased_at`` set."""
    update_by_id(
        session,
        _CONTACTS,
        [{"w_id": cid, "v_email": tombstone_email(cid)} for cid in contact_ids],
        email=sa.bindparam("v_email"),
        name=None,
        salutation=None,
        title=None,
        organisation=None,
        country=None,
        language=None,
        timezone=None,
        tags=[],
        fields={},
        erased_at=now,
        updated_at=now,
    )


def compact_sqlite(engine: Engine) -> bool | None:
    """On SQLite, rebuild the file (``VACUUM``: no free page keeps old content) and truncate
    the write-ahead log (:func:`checkpoint_sqlite`); True when the log was truncated. None on
    PostgreSQL."""
    if is_postgres(engine):
        return None
    with _sqlite_connection(engine) as connection:
        connection.execute("VACUUM")
    return checkpoint_sqlite(engine)


def checkpoint_sqlite(engine: Engine, *, attempts: int = 20) -> bool | None:
    """On SQLite, copy the write-ahead log into the file and truncate it
    (``wal_checkpoint(TRUNCATE)``, waiting for readers up to the busy timeout, tried
    ``attempts`` times); True when it was truncated. None on PostgreSQL."""
    if is_postgres(engine):
        return None
    with _sqlite_connection(engine) as connection:
        for _ in range(attempts):
            busy = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy == 0:
                return True
            time.sleep(0.1)
        return False


@contextmanager
def _sqlite_connection(engine: Engine) -> Iterator[Any]:
    """The driver's own connection (``sqlite3``, outside any transaction), from the pool and
    back to it after the block."""
    proxy = engine.raw_connection()
    try:
        connection = proxy.driver_connection
        assert connection is not None
        yield connection
    finally:
        proxy.close()
