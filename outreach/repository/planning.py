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


def count_contacts(session: Session) -> int:
    """How many contacts there are (the most a campaign's audience can be)."""
    return session.execute(sa.select(sa.func.count()).select_from(Contact)).scalar_one()


def contacts_page(session: Session, *, after: int, limit: int) -> list[Contact]:
    """Up to ``limit`` contacts with an id above ``after``, by id (pages that stay put while
    contacts are added)."""
    return list(
        session.exec(select(Contact).where(Contact.id > after).order_by(Contact.id).limit(limit))
    )


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
    rows = session.execute(
        sa.select(Message.step_id, Message.contact_id, Message.status, Message.sent_at).where(
            Message.campaign_id == campaign_id, Message.contact_id.in_(contact_ids)
        )
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
    rows = session.execute(
        sa.select(Enrollment.contact_id, Enrollment.status).where(
            Enrollment.campaign_id == campaign_id, Enrollment.contact_id.in_(contact_ids)
        )
    )
    return {row.contact_id: row.status for row in rows}


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
    stmt = _insert(session, Enrollment.__table__).on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=["campaign_id", "contact_id"]
    )
    session.execute(
        stmt,
        [
            {
                "campaign_id": campaign_id,
                "contact_id": cid,
                "status": EnrollmentStatus.ACTIVE.value,
                "created_at": now,
                "updated_at": now,
            }
            for cid in contact_ids
        ],
    )


def insert_messages(
    session: Session, *, rows: Sequence[Mapping[str, Any]]
) -> list[InsertedMessage]:
    """Insert message rows (column name → value), skipping rows whose (campaign, step,
    contact) already exists (a racing planner); returns the rows actually inserted."""
    if not rows:
        return []
    table = Message.__table__  # type: ignore[attr-defined]
    stmt = (
        _insert(session, table)
        .on_conflict_do_nothing(index_elements=["campaign_id", "step_id", "contact_id"])
        .returning(table.c.id, table.c.message_id)
    )
    return [InsertedMessage(row.id, row.message_id) for row in session.execute(stmt, rows)]


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
