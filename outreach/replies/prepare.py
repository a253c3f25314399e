"""One raw message made ready to store: parsed, classified, its match keys built. Pure.

Runs outside any transaction. Parsing never raises; should the classifier or the match keys
fail on some input anyway, the message is kept as ``unparseable`` (or unmatchable) and the run
goes on. Also here: the text cleaning every stored string goes through, and the received time
believed for a message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from outreach.replies.classify import classify
from outreach.replies.lookup import BOUNCE_KINDS, EMPTY_LOOKUP, Lookup, lookup_for
from outreach.replies.parse import ParsedInbound, parse_inbound
from outreach.replies.result import ClassificationResult
from outreach.states import Classification

log = logging.getLogger(__name__)

#: Received dates further ahead of ``now`` than this are not believed (``now`` is stored).
FUTURE_SLACK = timedelta(days=1)


@dataclass(frozen=True)
class PreparedReply:
    """A message ready to store: where it came from, what it is, how to match it.

    ``source`` and ``message_id`` are already cleaned for the database (:func:`clean_text`).
    """

    source: str
    parsed: ParsedInbound
    result: ClassificationResult
    lookup: Lookup
    message_id: str | None


def prepare_reply(
    source: str, raw: bytes, *, max_bytes: int, unsubscribe_addresses: frozenset[str]
) -> PreparedReply:
    """Parse (capped at ``max_bytes``), classify and key one message. Never raises."""
    parsed = parse_inbound(raw, max_bytes=max_bytes)
    try:
        result = classify(parsed, unsubscribe_addresses=unsubscribe_addresses)
    except Exception as exc:  # classify promises not to raise; the run goes on if it does
        log.exception("classifier failed on %s", source)
        result = ClassificationResult(
            Classification.UNPARSEABLE, f"classifier failed: {type(exc).__name__}"
        )
    try:
        names_recipient = result.kind in BOUNCE_KINDS or (
            result.kind == Classification.UNSUBSCRIBE and result.bounced_address is not None
        )
        lookup = lookup_for(parsed, is_bounce=names_recipient)
    except Exception:
        log.exception("match keys failed on %s", source)
        lookup = EMPTY_LOOKUP
    message_id = clean_text(parsed.message_id, 998)
    return PreparedReply(clean_text(source, 1000) or "", parsed, result, lookup, message_id)


def clean_text(value: str | None, limit: int) -> str | None:
    """A string any database accepts: no NUL, no lone surrogates, at most ``limit`` chars."""
    if value is None:
        return None
    value = value.replace("\x00", " ")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:limit]


def received_at(parsed: ParsedInbound, now: datetime) -> datetime:
    """The message's Date when it is believable, else ``now`` (the intake time)."""
    date = parsed.date
    if date is None or date > now + FUTURE_SLACK or date.year < 1980:
        return now
    return date


def unique_in_batch(replies: Sequence[PreparedReply]) -> tuple[list[PreparedReply], int]:
    """``replies`` without repeats of the same bytes or Message-ID (the first one kept), and
    how many were dropped."""
    fresh: list[PreparedReply] = []
    seen_sha: set[str] = set()
    seen_mid: set[str] = set()
    for reply in replies:
        sha, mid = reply.parsed.raw_sha256, reply.message_id
        if sha in seen_sha or (mid is not None and mid in seen_mid):
            continue
        seen_sha.add(sha)
        if mid is not None:
            seen_mid.add(mid)
        fresh.append(reply)
    return fresh, len(replies) - len(fresh)
