"""Counts for ``/metrics``: messages by status, SMTP attempts by outcome, inbound mail by
classification (whole-database totals, so every process reports the same figures)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Session, col

from outreach.models import Attempt, Inbound, Message


def _grouped(session: Session, column: sa.ColumnElement[str]) -> dict[str, int]:
    rows = session.execute(
        sa.select(column.label("key"), sa.func.count().label("n")).group_by(column)
    )
    return {str(row.key): int(row.n) for row in rows if row.key is not None}


def messages_by_status(session: Session) -> dict[str, int]:
    """How many messages are in each state (states with none are absent)."""
    return _grouped(session, col(Message.status))


def attempts_by_outcome(session: Session) -> dict[str, int]:
    """How many finished SMTP attempts ended each way (``sent``, ``retrying``, ``failed``…)."""
    return _grouped(session, col(Attempt.outcome))


def inbound_by_class(session: Session) -> dict[str, int]:
    """How many inbound messages have each classification."""
    return _grouped(session, col(Inbound.classification))
