"""One message's whole story for the console: the letter as it will leave (or left), its
event log, its SMTP attempts with the server's replies, and the replies it received.
Read-only; the queries are in :mod:`outreach.repository.review`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.db import Session
from outreach.repository import review as rows
from outreach.review.views import ReviewDetail, show


@dataclass(frozen=True)
class AttemptEntry:
    """One SMTP attempt: how far it got and how it ended."""

    number: int
    started_at: datetime
    finished_at: datetime | None
    phase: str
    outcome: str | None
    smtp_code: int | None
    smtp_response: str | None


@dataclass(frozen=True)
class ReplyEntry:
    """A message received in answer to this letter."""

    id: int
    received_at: datetime
    classification: str
    from_addr: str | None
    subject: str | None
    snippet: str | None


@dataclass(frozen=True)
class Timeline:
    """A message with its history (in ``detail``), attempts and replies."""

    detail: ReviewDetail
    attempts: tuple[AttemptEntry, ...]
    replies: tuple[ReplyEntry, ...]


def message_timeline(session: Session, message_id: int) -> Timeline:
    """Everything about message ``message_id``; NotFoundError for a missing id."""
    detail = show(session, message_id)
    attempts = tuple(
        AttemptEntry(
            a.number,
            a.started_at,
            a.finished_at,
            a.phase,
            a.outcome,
            a.smtp_code,
            a.smtp_response,
        )
        for a in rows.message_attempts(session, message_id=message_id)
    )
    replies = tuple(
        ReplyEntry(r.id, r.received_at, r.classification, r.from_addr, r.subject, r.snippet)
        for r in rows.message_replies(session, message_id=message_id)
        if r.id is not None
    )
    return Timeline(detail, attempts, replies)
