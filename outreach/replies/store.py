"""Store inbound mail once each, matched, with its events and effects, batch by batch.

:func:`ingest` prepares messages outside any transaction (:mod:`outreach.replies.prepare`),
then commits them :func:`store_batch` at a time, in ONE transaction per batch: drop duplicates
(the same raw bytes — ``raw_sha256`` is unique — or a Message-ID already stored), match
(:mod:`outreach.replies.match`), count soft bounces, store every message with an ``event`` row,
and apply DESIGN.md rule 4 (:mod:`outreach.replies.apply_effects`). Oversize and unparseable
mail is stored raw with its error and matched for the listing; it has no effects.

A batch that fails in the database is retried one message per transaction; a message that
still fails is stored raw with the error (:func:`store_raw_only`). Unmatched mail is stored and
listed, never dropped.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from outreach.db import Engine, OperationalError, Session, session_scope
from outreach.errors import DatabaseError
from outreach.replies.apply_effects import StoredReply, apply_effects
from outreach.replies.classify import own_outbound
from outreach.replies.effects import (
    SOFT_BOUNCES_FOR_HARD,
    promote_soft_bounces,
    soft_bounce_contacts,
)
from outreach.replies.match import MatchResult, match_many
from outreach.replies.prepare import (
    PreparedReply,
    clean_text,
    prepare_reply,
    received_at,
    unique_in_batch,
)
from outreach.replies.report import IntakeReport
from outreach.replies.result import ClassificationResult
from outreach.replies.snippet import snippet
from outreach.repository.inbound import (
    insert_inbound,
    last_classifications,
    record_arrivals,
    stored_message_ids,
    stored_raw_hashes,
)
from outreach.settings import Settings
from outreach.states import Classification

log = logging.getLogger(__name__)

#: The ``actor`` of the events reply intake writes.
ACTOR = "replies"
#: Longest stored snippet of what the sender wrote.
SNIPPET_CHARS = 200


def ingest(
    engine: Engine,
    items: Iterable[tuple[str, bytes]],
    *,
    settings: Settings,
    now: datetime,
    batch: int = 500,
    unsubscribe_addresses: frozenset[str] = frozenset(),
    progress: Callable[[int], None] | None = None,
    actor: str = ACTOR,
) -> IntakeReport:
    """Store, match, classify and act on every ``(source_label, raw_bytes)`` in ``items``.

    Streams: ``batch`` messages are parsed and then committed together (one transaction with
    their event rows and effects). Every message ends up stored exactly once — hostile input
    included — unless it is a duplicate (same bytes, or a Message-ID already stored), which
    changes nothing. Raises :class:`DatabaseError` only when the database itself is unusable
    (what was committed before stays committed; running again is harmless). ``progress`` is
    called with the number of messages handled after each batch. ``now`` is the intake time
    (stored as ``created_at``, and the reference for the sender match's recency window).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = IntakeReport()
    chunk: list[PreparedReply] = []
    for source, raw in items:
        chunk.append(
            prepare_reply(
                source,
                raw,
                max_bytes=settings.inbound_max_bytes,
                unsubscribe_addresses=unsubscribe_addresses,
            )
        )
        if len(chunk) >= batch:
            report += _commit_batch(engine, chunk, now=now, actor=actor)
            if progress is not None:
                progress(len(chunk))
            chunk = []
    if chunk:
        report += _commit_batch(engine, chunk, now=now, actor=actor)
        if progress is not None:
            progress(len(chunk))
    return report


def _commit_batch(
    engine: Engine, replies: Sequence[PreparedReply], *, now: datetime, actor: str
) -> IntakeReport:
    """:func:`store_batch` in its own transaction; on failure, one message at a time, and a
    message that still fails is stored raw with the error."""
    try:
        with session_scope(engine) as session:
            return store_batch(session, replies, now=now, actor=actor)
    except Exception as exc:
        if len(replies) > 1:
            log.warning(
                "reply batch of %d failed (%s); retrying one message at a time",
                len(replies),
                _describe(exc),
            )
            report = IntakeReport()
            for reply in replies:
                report += _commit_batch(engine, [reply], now=now, actor=actor)
            return report
        if isinstance(exc, OperationalError):
            # the database itself is unusable (down, locked, deadlocked twice): fail the run
            # rather than store the message as unprocessable; nothing of this batch is kept
            raise DatabaseError(
                f"reply intake: the database refused {replies[0].source}: {_describe(exc)}"
            ) from exc
        reply = replies[0]
        log.warning("reply %s could not be processed: %s", reply.source, _describe(exc))
        with session_scope(engine) as session:
            return store_raw_only(session, reply, now=now, actor=actor, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    """``ExceptionType: first line of the (driver's) message``, at most 300 characters."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:300] if detail else ''}"


def store_batch(
    session: Session, replies: Sequence[PreparedReply], *, now: datetime, actor: str
) -> IntakeReport:
    """Store one batch and apply its effects, in the caller's transaction (see the module
    docstring for the steps)."""
    new, duplicates = _not_yet_stored(session, replies)
    if not new:
        return IntakeReport(duplicates=duplicates)
    matches = match_many(session, [reply.lookup for reply in new], now=now)
    own = [_own_letter(reply, m) for reply, m in zip(new, matches, strict=True)]
    results = _count_soft_bounces(session, own, matches)
    rows = [
        inbound_row(reply, m, result, now=now)
        for reply, m, result in zip(new, matches, results, strict=True)
    ]
    ids = insert_inbound(session, rows=rows)
    stored = [
        (StoredReply(ids[row["raw_sha256"]], reply, m, result), row)
        for reply, m, result, row in zip(new, matches, results, rows, strict=True)
        if row["raw_sha256"] in ids
    ]
    record_arrivals(session, rows=[(s.inbound_id, row) for s, row in stored], now=now, actor=actor)
    apply_effects(session, [s for s, _ in stored], now=now, actor=actor)
    return IntakeReport(
        processed=len(stored),
        duplicates=duplicates + len(new) - len(stored),
        by_class=dict(Counter(row["classification"] for _, row in stored)),
        unmatched=sum(1 for s, _ in stored if not s.match.matched),
        errors=sum(1 for _, row in stored if row["error"]),
    )


def _not_yet_stored(
    session: Session, replies: Sequence[PreparedReply]
) -> tuple[list[PreparedReply], int]:
    """``replies`` without duplicates (in the batch, or already stored), and how many those
    were."""
    fresh, duplicates = unique_in_batch(replies)
    stored_sha = stored_raw_hashes(
        session, raw_sha256s=[reply.parsed.raw_sha256 for reply in fresh]
    )
    stored_mid = stored_message_ids(
        session, message_ids=[reply.message_id for reply in fresh if reply.message_id is not None]
    )
    new = [
        reply
        for reply in fresh
        if reply.parsed.raw_sha256 not in stored_sha
        and (reply.message_id is None or reply.message_id not in stored_mid)
    ]
    return new, duplicates + len(fresh) - len(new)


def _own_letter(reply: PreparedReply, m: MatchResult) -> ClassificationResult:
    """The reply's result, or ``own_outbound`` when its own Message-ID is one of our letters'."""
    if m.method == "message_id":
        return own_outbound(
            f"our own letter fed back (its Message-ID {reply.message_id} is one we sent)",
            decided_by="Message-ID",
        )
    return reply.result


def _count_soft_bounces(
    session: Session, results: Sequence[ClassificationResult], matches: Sequence[MatchResult]
) -> list[ClassificationResult]:
    """``results`` with a contact's third soft bounce in a row turned hard."""
    results = list(results)
    contact_ids = [m.contact_id for m in matches]
    history = {
        cid: last_classifications(session, contact_id=cid, limit=SOFT_BOUNCES_FOR_HARD - 1)
        for cid in soft_bounce_contacts(results, contact_ids)
    }
    if not history:
        return results
    return promote_soft_bounces(results, contact_ids, history)


def inbound_row(
    reply: PreparedReply, m: MatchResult, result: ClassificationResult, *, now: datetime
) -> dict[str, Any]:
    """The ``inbound`` row of one message: every string cleaned and capped for the database."""
    p = reply.parsed
    text_snippet = ""
    if not p.oversize and p.error is None:
        text_snippet = snippet(p.text, SNIPPET_CHARS)
    return {
        "message_id": reply.message_id,
        "in_reply_to": [clean_text(i, 998) for i in p.in_reply_to[:20]],
        "references": [clean_text(i, 998) for i in p.references[-50:]],
        "from_addr": clean_text(p.from_addr, 320),
        "subject": clean_text(p.subject, 2000),
        "received_at": received_at(p, now),
        "classification": result.kind.value,
        "reason": clean_text(result.reason, 2000),
        "bounce_status": clean_text(result.bounce_status, 20),
        "evidence": _clean_evidence(result),
        "strength": result.evidence.strength.value,
        "needs_review": result.needs_review,
        "matched_message_id": m.message.id if m.message is not None else None,
        "contact_id": m.contact_id,
        "campaign_id": m.campaign_id,
        "match_method": m.method,
        "raw": p.raw,
        "raw_sha256": p.raw_sha256,
        "raw_size": p.size,
        "snippet": clean_text(text_snippet, SNIPPET_CHARS * 2) or None,
        "error": clean_text(p.error, 2000),
        "source": reply.source,
        "created_at": now,
    }


def _clean_evidence(result: ClassificationResult) -> dict[str, Any]:
    """The evidence as stored: every string cleaned for the database."""
    return {
        key: clean_text(value, 300) if isinstance(value, str) else value
        for key, value in result.evidence.as_dict().items()
    }


def store_raw_only(
    session: Session, reply: PreparedReply, *, now: datetime, actor: str, error: str
) -> IntakeReport:
    """The last resort for one message the full path could not store: raw bytes and the
    error, as ``unparseable``, unmatched and without effects."""
    p = reply.parsed
    if stored_raw_hashes(session, raw_sha256s=[p.raw_sha256]):
        return IntakeReport(duplicates=1)
    row = {
        **inbound_row(reply, MatchResult(), reply.result, now=now),
        "classification": Classification.UNPARSEABLE.value,
        "reason": "stored raw after an intake failure",
        "evidence": {"decided_by": "intake failure", "line": clean_text(error, 300)},
        "strength": None,
        "needs_review": False,
        "error": clean_text(error, 2000),
        "matched_message_id": None,
        "contact_id": None,
        "campaign_id": None,
        "match_method": None,
    }
    ids = insert_inbound(session, rows=[row])
    if not ids:
        return IntakeReport(duplicates=1)
    record_arrivals(session, rows=[(ids[p.raw_sha256], row)], now=now, actor=actor)
    return IntakeReport(
        processed=1, by_class={Classification.UNPARSEABLE.value: 1}, unmatched=1, errors=1
    )
