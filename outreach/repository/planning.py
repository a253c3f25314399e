"""Planning's queries: pages of contacts, what is already planned for them, their enrollments,
bulk inserts that skip what a racing planner wrote first, and the messages re-planning
revisits (render errors, stale letters, unsent messages after a reload).

Inserts are SQLAlchemy Core ``INSERT … ON CONFLICT DO NOTHING`` (the ORM's bulk path costs more
than the insert itself); the unique keys (campaign, step, contact) and (campaign, contact) are
the backstop against double planning. State changes are not made here: the planner inserts rows
in their initial state and moves existing ones through :mod:`outreach.lifecycle`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from outreach.db import is_postgres
from outreach.models import Campaign, Contact, Enrollment, Message, Step
from outreach.repository.bodies import insert_bodies, split
from outreach.repository.bulk import insert_unnest
from outreach.repository.outbox import id_in
from outreach.states import EnrollmentStatus, MessageStatus


class PlannedState(NamedTuple):
    """A message already planned for (step, contact) in a campaign: how far it got."""

    step_id: int
    contact_id: int
    status: str
    sent_at: datetime | None


class InsertedMessage(NamedTuple):
    """A message row an insert actually wrote (not skipped as a conflict)."""

    id: int
    message_id: str


@dataclass(frozen=True)
class MessageParties:
    """The campaign, step and contact rows a message belongs to."""

    campaign: Campaign
    step: Step
    contact: Contact


# -- contacts -------------------------------------------------------------------------------------

#: Contacts whose data was not erased.
_LIVE = Contact.erased_at.is_(None)  # type: ignore[union-attr]


def count_contacts(session: Session) -> int:
    """How many contacts there are (the most a campaign's audience can be)."""
    query = sa.select(sa.func.count()).select_from(Contact).where(_LIVE)
    return session.execute(query).scalar_one()


def contacts_page(session: Session, *, after: int, limit: int) -> list[Contact]:
    """Up to ``limit`` contacts with an id above ``after``, by id (pages that stay put while
    contacts are added); erased contacts are never planned for."""
    query = select(Contact).where(Contact.id > after, _LIVE)  # type: ignore[operator]
    return list(session.exec(query.order_by(Contact.id).limit(limit)))


def contacts_by_id(session: Session, *, ids: Iterable[int]) -> dict[int, Contact]:
    """The contacts of ``ids`` that exist, by id."""
    return {c.id: c for c in session.exec(select(Contact).where(Contact.id.in_(set(ids))))}


def contact_by_email(session: Session, *, email: str) -> Contact | None:
    """The contact with ``email`` (compared normalised: stripped, lower case)."""
    return session.exec(select(Contact).where(Contact.email == email.strip().lower())).first()


# -- what is planned already ----------------------------------------------------------------------


def planned_states(
    session: Session, *, campaign_id: int, contact_ids: Collection[int]
) -> dict[tuple[int, int], PlannedState]:
    """The messages of ``campaign_id`` for ``contact_ids``, by (step id, contact id)."""
    table = Message.__table__  # type: ignore[attr-defined]
    query = sa.select(table.c.step_id, table.c.contact_id, table.c.status, table.c.sent_at)
    rows = session.execute(
        query.where(*_of_contacts_in(session, table, campaign_id, contact_ids)),
        {"ids": list(contact_ids)},
    )
    return {
        (row.step_id, row.contact_id): PlannedState(
            row.step_id, row.contact_id, row.status, row.sent_at
        )
        for row in rows
    }


def sent_at_by_step_and_contact(
    session: Session, *, campaign_id: int
) -> dict[tuple[int, int], datetime | None]:
    """When each sent message of ``campaign_id`` left, by (step id, contact id)."""
    rows = session.execute(
        sa.select(Message.step_id, Message.contact_id, Message.sent_at).where(
            Message.campaign_id == campaign_id,
            Message.status == MessageStatus.SENT.value,
        )
    )
    return {(row.step_id, row.contact_id): row.sent_at for row in rows}


def sent_at(session: Session, *, step_id: int, contact_id: int) -> datetime | None:
    """When the message of ``step_id`` left for ``contact_id`` (``None``: not sent)."""
    return session.exec(
        select(Message.sent_at).where(
            Message.step_id == step_id,
            Message.contact_id == contact_id,
            Message.status == MessageStatus.SENT.value,
        )
    ).first()


def enrollment_statuses(
    session: Session, *, campaign_id: int, contact_ids: Collection[int]
) -> dict[int, str]:
    """The enrollment status in ``campaign_id`` of each of ``contact_ids`` that has one."""
    table = Enrollment.__table__  # type: ignore[attr-defined]
    rows = session.execute(
        sa.select(table.c.contact_id, table.c.status).where(
            *_of_contacts_in(session, table, campaign_id, contact_ids)
        ),
        {"ids": list(contact_ids)},
    )
    return {row.contact_id: row.status for row in rows}


def _of_contacts_in(
    session: Session, table: sa.Table, campaign_id: int, contact_ids: Collection[int]
) -> tuple[sa.ColumnElement[bool], ...]:
    """The rows of ``table`` (message or enrollment) of ``campaign_id`` whose contact is one
    of the ids bound as ``ids`` (``= ANY`` of one array on PostgreSQL). The campaign is
    compared as an expression (``campaign_id + 0``) so that the database looks the rows up by
    contact: a PostgreSQL table that was never analysed (a large first plan, autovacuum
    behind) takes ``campaign_id = …`` for selective and, through the campaign index, reads
    every row of the campaign planned so far for each page — a pass growing with the square
    of the audience."""
    return (
        id_in(table.c.contact_id, "ids", postgres=is_postgres(session)),
        (table.c.campaign_id + 0) == campaign_id,
    )


# -- inserts --------------------------------------------------------------------------------------


def _insert(session: Session, table: sa.Table) -> Any:
    dialect = postgresql if is_postgres(session) else sqlite
    return dialect.insert(table)


def enroll(
    session: Session, *, campaign_id: int, contact_ids: Sequence[int], now: datetime
) -> None:
    """Enroll ``contact_ids`` in ``campaign_id`` as active, skipping any a racing planner just
    enrolled."""
    if not contact_ids:
        return
    table = Enrollment.__table__  # type: ignore[attr-defined]
    rows = [
        {
            "campaign_id": campaign_id,
            "contact_id": cid,
            "status": EnrollmentStatus.ACTIVE.value,
            "created_at": now,
            "updated_at": now,
        }
        for cid in contact_ids
    ]
    if is_postgres(session):  # one statement of an array per column
        insert_unnest(session, table, rows, conflict=("campaign_id", "contact_id"))
        return
    stmt = _insert(session, table).on_conflict_do_nothing(
        index_elements=["campaign_id", "contact_id"]
    )
    session.execute(stmt, rows)


def insert_messages(
    session: Session, *, rows: Sequence[Mapping[str, Any]]
) -> list[InsertedMessage]:
    """Insert messages (column name → value, ``text``, ``html`` and ``raw`` included: they go
    to each message's body row), skipping rows whose (campaign, step, contact) already exists
    (a racing planner); returns the messages actually inserted."""
    if not rows:
        return []
    table = Message.__table__  # type: ignore[attr-defined]
    split_rows = [split(r) for r in rows]
    message_rows = [row for row, _ in split_rows]
    if is_postgres(session):  # one statement of an array per column
        inserted = [
            InsertedMessage(*row)
            for row in insert_unnest(
                session,
                table,
                message_rows,
                conflict=("campaign_id", "step_id", "contact_id"),
                returning=("id", "message_id"),
            )
        ]
    else:
        stmt = (
            _insert(session, table)
            .on_conflict_do_nothing(index_elements=["campaign_id", "step_id", "contact_id"])
            .returning(table.c.id, table.c.message_id)
        )
        inserted = [
            InsertedMessage(row.id, row.message_id) for row in session.execute(stmt, message_rows)
        ]
    body_of = {row["message_id"]: body for row, body in split_rows}
    insert_bodies(session, bodies=[{"message_id": m.id, **body_of[m.message_id]} for m in inserted])
    return inserted


#: A pass that inserted at least this many messages refreshes the planner statistics of the
#: message and enrollment tables on PostgreSQL (see :func:`refresh_statistics`).
ANALYZE_AFTER_ROWS = 1_000


def refresh_statistics(session: Session, *, inserted: int) -> bool:
    """PostgreSQL: ``ANALYZE message, enrollment`` after a pass that inserted ``inserted``
    messages, when that is at least :data:`ANALYZE_AFTER_ROWS` and more than a tenth of the
    rows the statistics knew of (autovacuum's own rule, applied now rather than up to a minute
    later — or never, where it is off). The dispatcher reads these rows next: on statistics
    taken before them (or none), its claim reads and sorts every due row instead of walking
    the claim index (0.5 s per claim at 100,000 messages, 0.3 ms after). Whether it ran."""
    if not is_postgres(session) or inserted < ANALYZE_AFTER_ROWS:
        return False
    known = session.execute(_MESSAGE_ROWS_KNOWN).scalar()
    if known is not None and inserted <= 0.1 * known:
        return False
    session.execute(sa.text("ANALYZE message, enrollment"))
    return True


#: The rows the message table's statistics know of (-1 or 0 when never analysed).
_MESSAGE_ROWS_KNOWN = sa.text("SELECT reltuples FROM pg_class WHERE oid = 'message'::regclass")


# -- messages to re-plan --------------------------------------------------------------------------


def _message_ids(session: Session, *where: Any) -> list[int]:
    return list(session.exec(select(Message.id).where(*where)))


def render_error_ids(session: Session, *, campaign_id: int) -> list[int]:
    """The messages of ``campaign_id`` whose template failed (it may be fixed now)."""
    return _message_ids(
        session,
        Message.campaign_id == campaign_id,
        Message.status == MessageStatus.RENDER_ERROR.value,
    )


def stale_ids(session: Session, *, campaign_id: int) -> list[int]:
    """The messages of ``campaign_id`` back in review as stale and not edited by a reviewer."""
    return _message_ids(
        session,
        Message.campaign_id == campaign_id,
        Message.status == MessageStatus.PENDING_REVIEW.value,
        Message.stale_reason.is_not(None),
        Message.edited == False,  # noqa: E712
    )


def messages_by_ids(session: Session, *, ids: Collection[int]) -> list[Message]:
    """The messages of ``ids`` that exist, by id."""
    return list(session.exec(select(Message).where(Message.id.in_(ids)).order_by(Message.id)))


def messages_in_states(
    session: Session, *, campaign_id: int, statuses: Iterable[MessageStatus]
) -> list[Message]:
    """The messages of ``campaign_id`` in one of ``statuses``."""
    return list(
        session.exec(
            select(Message).where(
                Message.campaign_id == campaign_id,
                Message.status.in_([s.value for s in statuses]),
            )
        )
    )


def cancelled_messages(session: Session, *, contact_id: int) -> list[Message]:
    """The contact's cancelled messages, by id."""
    return list(
        session.exec(
            select(Message)
            .where(
                Message.contact_id == contact_id,
                Message.status == MessageStatus.CANCELLED.value,
            )
            .order_by(Message.id)
        )
    )


def steps_by_id(session: Session, *, ids: Iterable[int]) -> dict[int, Step]:
    """The steps of ``ids`` that exist, by id."""
    return {s.id: s for s in session.exec(select(Step).where(Step.id.in_(set(ids))))}


def message_parties(session: Session, *, message: Message) -> MessageParties:
    """The campaign, step and contact of ``message`` (rows a message cannot outlive)."""
    campaign = session.get(Campaign, message.campaign_id)
    step = session.get(Step, message.step_id)
    contact = session.get(Contact, message.contact_id)
    assert campaign is not None and step is not None and contact is not None
    return MessageParties(campaign, step, contact)
