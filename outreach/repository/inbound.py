"""Inbound mail rows, and every other query reply intake makes.

Storage and de-duplication of ``inbound`` rows, their arrival events, the listing, the IMAP
``mailbox_state`` cursor, and the reads of other aggregates the intake needs (letters by
Message-ID, contacts by address, a contact's enrollments and unsent mail). Keyword-only
functions over a ``Session``; results are model rows or named rows. ``IN`` lists are sent
:data:`IN_CHUNK` values at a time. Nothing here commits; state changes go through
:mod:`outreach.lifecycle`, suppressions through :mod:`outreach.repository.suppressions`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from outreach.db import is_postgres
from outreach.models import (
    Campaign,
    Contact,
    Enrollment,
    Inbound,
    MailboxState,
    Message,
    Step,
)
from outreach.repository.bulk import insert_unnest
from outreach.repository.events import insert_events
from outreach.states import UNSENT, Classification, MessageStatus

#: Largest ``IN (...)`` list sent in one statement.
IN_CHUNK = 500

_INBOUND = Inbound.__table__  # type: ignore[attr-defined]
_MESSAGE = Message.__table__  # type: ignore[attr-defined]


def _chunked(items: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _one_of(session: Session, column: Any, values: Sequence[Any]) -> Any:
    """``column IN (values)``; on PostgreSQL ``column = ANY(:values)``, one array parameter,
    so the statement's text stays the same whatever the number of values (the driver converts
    it and the server plans it once, instead of a new statement of hundreds of parameters)."""
    if is_postgres(session):
        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def _insert_for(session: Session) -> Any:
    """The dialect's ``insert`` (it has ``on_conflict_do_nothing``)."""
    if is_postgres(session):
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


# --- storage and de-duplication -----------------------------------------------------------------


def stored_raw_hashes(session: Session, *, raw_sha256s: Sequence[str]) -> set[str]:
    """Which of ``raw_sha256s`` are already stored."""
    found: set[str] = set()
    for chunk in _chunked(sorted(raw_sha256s)):
        found.update(
            session.exec(
                select(Inbound.raw_sha256).where(_one_of(session, Inbound.raw_sha256, chunk))
            )
        )
    return found


def stored_message_ids(session: Session, *, message_ids: Sequence[str]) -> set[str]:
    """Which of ``message_ids`` (Message-ID header values) are already stored."""
    found: set[str] = set()
    postgres = is_postgres(session)
    for chunk in _chunked(sorted(message_ids)):
        if postgres:
            found.update(session.execute(_STORED_MESSAGE_IDS, {"values": list(chunk)}).scalars())
            continue
        found.update(
            mid
            for mid in session.exec(
                select(Inbound.message_id).where(_one_of(session, Inbound.message_id, chunk))  # type: ignore[union-attr]
            )
            if mid
        )
    return found


def _present_among(column: Any) -> sa.Select[Any]:
    """PostgreSQL: the values bound as ``values`` (an array) that ``column`` holds, as
    ``SELECT v FROM unnest(:values) v WHERE EXISTS (… column = v)``: a semi-join the server
    runs as one index lookup per value. ``column = ANY(:values)`` on a column that is not
    unique, in a table never analysed (a first large import, autovacuum behind), is estimated
    to match most rows, and read every row of the table for each batch."""
    given = sa.func.unnest(sa.bindparam("values", type_=ARRAY(column.type)))
    values = given.table_valued("v").render_derived(name="given")
    stored = sa.select(sa.literal(1)).select_from(column.table).where(column == values.c.v)
    return sa.select(values.c.v).where(stored.exists())


_STORED_MESSAGE_IDS = _present_among(_INBOUND.c.message_id)


def insert_inbound(session: Session, *, rows: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Insert ``rows`` (``ON CONFLICT (raw_sha256) DO NOTHING``); ``{raw_sha256: id}`` of the
    rows inserted. A row another process stored meanwhile is skipped (it is a duplicate)."""
    if not rows:
        return {}
    if is_postgres(session):  # one statement of an array per column
        inserted = insert_unnest(
            session, _INBOUND, rows, conflict=("raw_sha256",), returning=("raw_sha256", "id")
        )
        return dict(inserted)
    stmt = (
        _insert_for(session)(_INBOUND)
        .on_conflict_do_nothing(index_elements=["raw_sha256"])
        .returning(_INBOUND.c.id, _INBOUND.c.raw_sha256)
    )
    return {sha: iid for iid, sha in session.execute(stmt, list(rows)).all()}


def record_arrivals(
    session: Session,
    *,
    rows: Sequence[tuple[int, Mapping[str, Any]]],
    now: datetime,
    actor: str,
) -> None:
    """One ``received`` audit row per stored inbound message ``(id, inserted row)``: a record
    of arrival, not a state change."""
    if not rows:
        return
    events = [
        {
            "at": now,
            "actor": actor,
            "entity": "inbound",
            "entity_id": iid,
            "action": "received",
            "from_state": None,
            "to_state": row["classification"],
            "reason": row["reason"],
            "data": {
                "match_method": row["match_method"],
                "matched_message_id": row["matched_message_id"],
                "contact_id": row["contact_id"],
                "source": row["source"],
            },
        }
        for iid, row in rows
    ]
    insert_events(session, events)


def last_classifications(
    session: Session,
    *,
    contact_id: int,
    limit: int = 2,
    ignore: Collection[str] = (Classification.OWN_OUTBOUND.value,),
) -> list[str]:
    """The classifications of the contact's last ``limit`` stored inbound messages, oldest
    first; messages classified as one of ``ignore`` (our own letters fed back) are skipped."""
    query = select(Inbound.classification).where(Inbound.contact_id == contact_id)
    if ignore:
        query = query.where(Inbound.classification.not_in(list(ignore)))  # type: ignore[attr-defined]
    newest_first = session.exec(
        query.order_by(Inbound.id.desc()).limit(limit)  # type: ignore[union-attr]
    )
    return list(reversed(list(newest_first)))


def later_inbound_of_contact(
    session: Session, *, contact_id: int, after_id: int, classifications: Collection[str]
) -> list[Inbound]:
    """The contact's inbound messages stored after message ``after_id`` (a larger id) whose
    class is one of ``classifications``, oldest first."""
    return list(
        session.exec(
            select(Inbound)
            .where(
                Inbound.contact_id == contact_id,
                Inbound.id > after_id,  # type: ignore[operator]
                Inbound.classification.in_(list(classifications)),  # type: ignore[attr-defined]
            )
            .order_by(Inbound.id)  # type: ignore[arg-type]
        )
    )


def get_inbound(session: Session, *, inbound_id: int) -> Inbound | None:
    """One stored inbound message (raw bytes included), or ``None``."""
    return session.get(Inbound, inbound_id)


def set_classification(
    session: Session, *, inbound_id: int, current: str, values: Mapping[str, Any]
) -> bool:
    """Compare-and-set the class of inbound message ``inbound_id`` (still ``current``) and
    its ``values`` (reason, evidence, strength, needs_review); False when it changed
    meanwhile."""
    result = session.execute(
        sa.update(_INBOUND)
        .where(_INBOUND.c.id == inbound_id, _INBOUND.c.classification == current)
        .values(**values)
    )
    return result.rowcount == 1


# --- matching: letters and contacts -------------------------------------------------------------


class MatchedLetter(NamedTuple):
    """An outbound letter as matching needs it (none of its bytes or bodies)."""

    id: int
    message_id: str
    contact_id: int
    campaign_id: int
    sent_at: datetime | None


_MATCHED_LETTER_COLUMNS = (
    _MESSAGE.c.id,
    _MESSAGE.c.message_id,
    _MESSAGE.c.contact_id,
    _MESSAGE.c.campaign_id,
    _MESSAGE.c.sent_at,
)


def letters_by_message_id(session: Session, *, message_ids: Sequence[str]) -> list[MatchedLetter]:
    """The outbound messages whose Message-ID is one of ``message_ids``."""
    found: list[MatchedLetter] = []
    for chunk in _chunked(list(message_ids)):
        found.extend(
            MatchedLetter(*row)
            for row in session.execute(
                sa.select(*_MATCHED_LETTER_COLUMNS).where(
                    _one_of(session, _MESSAGE.c.message_id, chunk)
                )
            )
        )
    return found


def contact_ids_by_email(session: Session, *, emails: Sequence[str]) -> dict[str, int]:
    """``{email: contact id}`` for the contacts whose address is one of ``emails``."""
    found: dict[str, int] = {}
    for chunk in _chunked(list(emails)):
        for cid, email in session.exec(
            select(Contact.id, Contact.email).where(_one_of(session, Contact.email, chunk))  # type: ignore[attr-defined]
        ):
            assert cid is not None
            found[email] = cid
    return found


def sent_letters_of_contacts(
    session: Session, *, contact_ids: Sequence[int], now: datetime
) -> list[MatchedLetter]:
    """The letters sent to ``contact_ids`` at or before ``now``, oldest first within each
    :data:`IN_CHUNK` of contacts."""
    found: list[MatchedLetter] = []
    for chunk in _chunked(list(contact_ids)):
        found.extend(
            MatchedLetter(*row)
            for row in session.execute(
                sa.select(*_MATCHED_LETTER_COLUMNS)
                .where(
                    _one_of(session, _MESSAGE.c.contact_id, chunk),
                    _MESSAGE.c.status == MessageStatus.SENT.value,
                    _MESSAGE.c.sent_at.is_not(None),
                    _MESSAGE.c.sent_at <= now,
                )
                .order_by(_MESSAGE.c.sent_at, _MESSAGE.c.id)
            )
        )
    return found


# --- what the effects of replies touch ------------------------------------------------------------


class UnsentLetter(NamedTuple):
    """A not-yet-sent message (:data:`~outreach.states.UNSENT`), as cancelling needs it."""

    id: int
    status: str
    contact_id: int
    campaign_id: int


def contact_emails(session: Session, *, contact_ids: Sequence[int]) -> dict[int, str]:
    """``{contact id: email}`` for ``contact_ids``."""
    found: dict[int, str] = {}
    for chunk in _chunked(list(contact_ids)):
        found.update(
            (cid, email)
            for cid, email in session.exec(
                select(Contact.id, Contact.email).where(_one_of(session, Contact.id, chunk))  # type: ignore[union-attr]
            )
            if cid is not None
        )
    return found


def enrollments_of_contacts(session: Session, *, contact_ids: Sequence[int]) -> list[Enrollment]:
    """Every enrollment (in any campaign) of ``contact_ids``."""
    found: list[Enrollment] = []
    for chunk in _chunked(list(contact_ids)):
        found.extend(
            session.exec(select(Enrollment).where(_one_of(session, Enrollment.contact_id, chunk)))  # type: ignore[attr-defined]
        )
    return found


def unsent_letters_of_contacts(
    session: Session, *, contact_ids: Sequence[int]
) -> list[UnsentLetter]:
    """Every message not yet sent (in any campaign) to ``contact_ids``."""
    found: list[UnsentLetter] = []
    unsent = [s.value for s in UNSENT]
    for chunk in _chunked(list(contact_ids)):
        rows = session.exec(
            select(Message.id, Message.status, Message.contact_id, Message.campaign_id).where(
                _one_of(session, Message.contact_id, chunk),  # type: ignore[attr-defined]
                Message.status.in_(unsent),  # type: ignore[attr-defined]
            )
        )
        found.extend(UnsentLetter(*row) for row in rows)
    return found


# --- the IMAP cursor ------------------------------------------------------------------------------


class MailboxCursor(NamedTuple):
    """Where the last poll of one IMAP mailbox stopped."""

    uidvalidity: int
    last_uid: int


def mailbox_cursor(session: Session, *, mailbox: str) -> MailboxCursor | None:
    """The stored cursor of ``mailbox`` (``user@host/mailbox``), or ``None`` before any poll."""
    state = session.get(MailboxState, mailbox)
    return MailboxCursor(state.uidvalidity, state.last_uid) if state is not None else None


def save_mailbox_cursor(
    session: Session, *, mailbox: str, uidvalidity: int, last_uid: int, now: datetime
) -> None:
    """Record ``(uidvalidity, last_uid)``: a new UIDVALIDITY replaces the row; the same one
    only ever raises ``last_uid`` (two pollers never move it backwards)."""
    result = session.execute(
        _insert_for(session)(MailboxState)
        .values(mailbox=mailbox, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
        .on_conflict_do_nothing(index_elements=["mailbox"])
    )
    if result.rowcount == 1:
        return
    session.execute(
        sa.update(MailboxState)
        .where(
            MailboxState.mailbox == mailbox,  # type: ignore[arg-type]
            sa.or_(
                MailboxState.uidvalidity != uidvalidity,  # type: ignore[arg-type]
                MailboxState.last_uid < last_uid,  # type: ignore[arg-type]
            ),
        )
        .values(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
    )


# --- listing --------------------------------------------------------------------------------------


class InboundListRow(NamedTuple):
    """One stored inbound message (``raw`` deferred) with what it was matched to."""

    inbound: Inbound
    contact_email: str | None
    contact_name: str | None
    campaign_slug: str | None
    step_key: str | None
    matched_message_id: str | None
    matched_subject: str | None


def list_inbound(
    session: Session,
    *,
    campaign_id: int | None = None,
    classification: str | None = None,
    unmatched: bool = False,
    needs_review: bool = False,
    limit: int | None = None,
) -> list[InboundListRow]:
    """Stored inbound mail, newest first (by received time, then id), with the contact,
    campaign, step and letter it answers; filtered by campaign, classification, only mail
    that matched nothing, or only mail flagged for a person."""
    query = (
        select(
            Inbound,
            Contact.email,
            Contact.name,
            Campaign.slug,
            Step.key,
            Message.message_id,
            Message.subject,
        )
        .outerjoin(Contact, Contact.id == Inbound.contact_id)  # type: ignore[arg-type]
        .outerjoin(Campaign, Campaign.id == Inbound.campaign_id)  # type: ignore[arg-type]
        .outerjoin(Message, Message.id == Inbound.matched_message_id)  # type: ignore[arg-type]
        .outerjoin(Step, Step.id == Message.step_id)  # type: ignore[arg-type]
        .options(defer(Inbound.raw))  # type: ignore[arg-type]
        .order_by(Inbound.received_at.desc(), Inbound.id.desc())  # type: ignore[attr-defined,union-attr]
    )
    if campaign_id is not None:
        query = query.where(Inbound.campaign_id == campaign_id)
    if classification is not None:
        query = query.where(Inbound.classification == classification)
    if unmatched:
        query = query.where(Inbound.match_method.is_(None))  # type: ignore[union-attr]
    if needs_review:
        query = query.where(Inbound.needs_review == True)  # noqa: E712
    if limit is not None:
        query = query.limit(limit)
    return [InboundListRow(*row) for row in session.exec(query)]
