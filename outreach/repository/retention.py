"""Received mail reduced to its classification and match: the rows retention and erasure
empty, and the statements that empty them.

A reduced inbound row keeps its class, bounce status, strength, the letter, contact and
campaign it matched, how it matched, when it arrived, its size, its Message-ID and the SHA-256
of the raw source (so that the same message fetched or imported again is still recognised and
not stored twice); its raw source, sender, subject, snippet, reason, parse error and the
deciding line of its evidence are removed, and ``reduced_at`` says when.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session

from outreach.models import Inbound
from outreach.repository.bulk import update_by_id
from outreach.repository.outbox import in_chunks

_INBOUND = Inbound.__table__  # type: ignore[attr-defined]


class InboundText(NamedTuple):
    """What an inbound row says, for a search through it."""

    id: int
    message_id: str | None
    contact_id: int | None
    matched_message_id: int | None
    from_addr: str | None
    subject: str | None
    snippet: str | None
    reason: str | None
    error: str | None
    source: str | None
    evidence: dict[str, Any] | None
    raw: bytes


def due_for_reduction(session: Session, *, received_before: datetime, limit: int) -> list[int]:
    """Up to ``limit`` inbound rows received before ``received_before`` and not yet reduced,
    by id."""
    query = (
        sa.select(_INBOUND.c.id)
        .where(_INBOUND.c.reduced_at.is_(None), _INBOUND.c.received_at < received_before)
        .order_by(_INBOUND.c.id)
        .limit(limit)
    )
    return list(session.execute(query).scalars())


def reduced_evidence(evidence: dict[str, Any] | None) -> dict[str, Any] | None:
    """Evidence without its deciding line (the words of the message)."""
    if evidence is None:
        return None
    return {**evidence, "line": None}


def reduce_inbound(session: Session, *, ids: Sequence[int], now: datetime) -> int:
    """Reduce these inbound rows (see the module docstring); returns how many."""
    reduced = 0
    for chunk in in_chunks(list(ids)):
        evidence = dict(
            session.execute(
                sa.select(_INBOUND.c.id, _INBOUND.c.evidence).where(_INBOUND.c.id.in_(chunk))
            ).all()
        )
        if not evidence:
            continue
        update_by_id(
            session,
            _INBOUND,
            [
                {"w_id": iid, "v_evidence": reduced_evidence(ev)}
                for iid, ev in sorted(evidence.items())
            ],
            raw=b"",
            from_addr=None,
            subject=None,
            snippet=None,
            reason=None,
            error=None,
            evidence=sa.bindparam("v_evidence", type_=sa.JSON),
            reduced_at=now,
        )
        reduced += len(evidence)
    return reduced


def inbound_pages(session: Session, *, size: int = 200) -> Iterator[list[InboundText]]:
    """Every inbound row's text and raw source, ``size`` rows at a time by id."""
    after = 0
    columns = [_INBOUND.c[name] for name in InboundText._fields]
    while True:
        query = sa.select(*columns).where(_INBOUND.c.id > after).order_by(_INBOUND.c.id).limit(size)
        page = [InboundText(*row) for row in session.execute(query)]
        if not page:
            return
        yield page
        after = page[-1].id


def set_labels(
    session: Session, *, inbound_id: int, message_id: str | None, source: str | None
) -> None:
    """Replace an inbound row's Message-ID and where it says it came from."""
    session.execute(
        sa.update(_INBOUND)
        .where(_INBOUND.c.id == inbound_id)
        .values(message_id=message_id, source=source)
    )
