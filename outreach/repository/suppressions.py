"""The suppression list: addresses that must never be mailed again.

Rows are added race-safely (``INSERT … ON CONFLICT DO NOTHING``), listed, and lifted (deleted;
the caller records the event). Each row keeps who or what added it (``actor``) and, when a
reply's effect put it there, that inbound message (``inbound_id``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.db import is_postgres
from outreach.models import Contact, Suppression
from outreach.repository.bulk import insert_unnest

_TABLE = Suppression.__table__  # type: ignore[attr-defined]


class SuppressionEntry(NamedTuple):
    """One address to suppress: why (``reason``, a short word), the detail, what put it there."""

    email: str
    reason: str
    detail: str | None = None
    inbound_id: int | None = None
    actor: str | None = None


@dataclass(frozen=True)
class SuppressionRow:
    """One suppressed address as listed, with the contact it belongs to (if any)."""

    email: str
    reason: str
    detail: str | None
    created_at: datetime
    actor: str | None
    inbound_id: int | None
    contact_id: int | None


def suppressed_emails(session: Session, emails: Iterable[str] | None = None) -> set[str]:
    """The suppressed addresses (among ``emails`` when given)."""
    query = select(Suppression.email)
    if emails is not None:
        query = query.where(Suppression.email.in_(list(emails)))  # type: ignore[attr-defined]
    return set(session.exec(query))


def suppress(
    session: Session,
    *,
    email: str,
    reason: str,
    detail: str | None,
    now: datetime,
    inbound_id: int | None = None,
    actor: str | None = None,
) -> bool:
    """Add ``email`` to the suppression list; False when it was already there.

    Race-safe: ``INSERT … ON CONFLICT DO NOTHING``, so two processes suppressing the same
    address at once both succeed and exactly one row (the first reason) is kept.
    """
    entry = SuppressionEntry(email, reason, detail, inbound_id, actor)
    return bool(suppress_many(session, [entry], now=now))


def suppress_many(
    session: Session,
    entries: Iterable[SuppressionEntry | tuple[str, str, str | None]],
    *,
    now: datetime,
) -> set[str]:
    """Suppress every entry (``(email, reason, detail)`` or a :class:`SuppressionEntry`) in one
    statement (``ON CONFLICT DO NOTHING``, race-safe); returns the addresses that were not
    suppressed before."""
    rows: dict[str, dict[str, object]] = {}
    for item in entries:
        entry = SuppressionEntry(*item)
        rows.setdefault(entry.email, entry._asdict())
    if not rows:
        return set()
    values = [{**row, "created_at": now} for row in rows.values()]
    if is_postgres(session):  # one statement of an array per column
        inserted = insert_unnest(session, _TABLE, values, conflict=("email",), returning=("email",))
        return {row[0] for row in inserted}
    from sqlalchemy.dialects.sqlite import insert

    result = session.execute(
        insert(_TABLE).on_conflict_do_nothing(index_elements=["email"]).returning(_TABLE.c.email),
        values,
    )
    return {row[0] for row in result}


def _rows() -> sa.Select:
    """Suppressions with the id of the contact each address belongs to (if any)."""
    return sa.select(
        _TABLE.c.email,
        _TABLE.c.reason,
        _TABLE.c.detail,
        _TABLE.c.created_at,
        _TABLE.c.actor,
        _TABLE.c.inbound_id,
        Contact.id,
    ).outerjoin(Contact, Contact.email == _TABLE.c.email)  # type: ignore[arg-type]


def list_suppressions(session: Session, *, email: str | None = None) -> list[SuppressionRow]:
    """Every suppressed address (or only ``email``), newest first, with its contact's id."""
    query = _rows().order_by(_TABLE.c.created_at.desc(), _TABLE.c.email)
    if email is not None:
        query = query.where(_TABLE.c.email == email)
    return [SuppressionRow(*row) for row in session.execute(query)]


def suppressions_of(session: Session, *, emails: Iterable[str]) -> list[SuppressionRow]:
    """The suppressions of those of ``emails`` that are suppressed."""
    wanted = list(emails)
    if not wanted:
        return []
    return [
        SuppressionRow(*row) for row in session.execute(_rows().where(_TABLE.c.email.in_(wanted)))
    ]


def suppressions_of_inbound(session: Session, *, inbound_id: int) -> list[SuppressionRow]:
    """The suppressions the effect of inbound message ``inbound_id`` put in place (rows from
    before that was recorded are found by their detail, ``inbound N: …``)."""
    query = _rows().where(
        sa.or_(
            _TABLE.c.inbound_id == inbound_id,
            sa.and_(
                _TABLE.c.inbound_id.is_(None),
                _TABLE.c.detail.like(f"inbound {inbound_id}: %"),
            ),
        )
    )
    return [SuppressionRow(*row) for row in session.execute(query)]


def lift(session: Session, *, emails: Sequence[str]) -> set[str]:
    """Delete the suppressions of ``emails``; the addresses that were suppressed."""
    if not emails:
        return set()
    result = session.execute(
        sa.delete(_TABLE).where(_TABLE.c.email.in_(list(emails))).returning(_TABLE.c.email)
    )
    return {row[0] for row in result}
