"""The suppression list: addresses that must never be mailed again."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.models import Suppression


def suppressed_emails(session: Session, emails: Iterable[str] | None = None) -> set[str]:
    query = select(Suppression.email)
    if emails is not None:
        query = query.where(Suppression.email.in_(list(emails)))
    return set(session.exec(query))


def suppress(
    session: Session, *, email: str, reason: str, detail: str | None, now: datetime
) -> bool:
    """Add ``email`` to the suppression list; False when it was already there.

    Race-safe: ``INSERT … ON CONFLICT DO NOTHING``, so two processes suppressing the same
    address at once both succeed and exactly one row (the first reason) is kept.
    """
    return bool(suppress_many(session, [(email, reason, detail)], now=now))


def suppress_many(
    session: Session, entries: Iterable[tuple[str, str, str | None]], *, now: datetime
) -> set[str]:
    """Suppress every ``(email, reason, detail)`` in one statement (``ON CONFLICT DO
    NOTHING``, race-safe); returns the addresses that were not suppressed before."""
    rows = {}
    for email, reason, detail in entries:
        rows.setdefault(email, {"email": email, "reason": reason, "detail": detail})
    if not rows:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = Suppression.__table__  # type: ignore[attr-defined]
    result = session.execute(
        insert(table).on_conflict_do_nothing(index_elements=["email"]).returning(table.c.email),
        [{**row, "created_at": now} for row in rows.values()],
    )
    return {row[0] for row in result}


def list_suppressions(session: Session) -> list[Suppression]:
    """Every suppressed address, newest first."""
    return list(
        session.exec(
            select(Suppression).order_by(col(Suppression.created_at).desc(), col(Suppression.email))
        )
    )


def get_suppression(session: Session, *, email: str) -> Suppression | None:
    """The suppression of ``email``, or None."""
    return session.get(Suppression, email)


def lift(session: Session, *, email: str) -> bool:
    """Remove ``email`` from the suppression list; False when it was not on it."""
    result = session.execute(sa.delete(Suppression).where(col(Suppression.email) == email))
    return result.rowcount == 1


def suppressions_of(session: Session, *, emails: Iterable[str]) -> list[Suppression]:
    """The suppressions of ``emails`` (those suppressed)."""
    wanted = list(emails)
    if not wanted:
        return []
    return list(session.exec(select(Suppression).where(col(Suppression.email).in_(wanted))))
