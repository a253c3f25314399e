"""Reply intake: one code path from raw bytes to stored, matched, classified mail and its effects.

Every source (IMAP, ``.eml``, ``.mbox``, Maildir) ends up in :func:`ingest`:

1. parse (:func:`~outreach.replies.parse.parse_inbound`, size-capped, never raises) and classify
   (pure), outside any transaction;
2. in ONE transaction per batch: drop duplicates (the same raw bytes — ``raw_sha256`` is unique —
   or a Message-ID already stored), match (:mod:`outreach.replies.match`, a few ``IN`` queries),
   store every message with an ``event`` row, and apply DESIGN.md rule 4 through
   :mod:`outreach.lifecycle`:

   ============  ==========================================================================
   human         enrollment ``replied``; that campaign's unsent mail to the contact cancelled
   auto_reply    recorded only
   bounce_hard   address suppressed; enrollments ``bounced``; all unsent mail to it cancelled
   bounce_soft   recorded; the third soft bounce in a row for a contact counts as hard
   rejected      recorded (5.7.x policy refusal): no suppression
   unsubscribe   address suppressed; enrollments ``unsubscribed``; unsent mail cancelled
   oversize /    stored raw (with the error) and processed no further: matched for the
   unparseable   listing, no effects
   ============  ==========================================================================

A batch that fails in the database is retried one message per transaction; a message that
still fails is stored raw with the error. Unmatched mail is stored and listed, never dropped.

:func:`fetch_mailbox` polls the IMAP mailbox once and only records the highest UID processed
after the batch's commit, so a crash re-fetches and de-duplication makes that harmless.
"""

from __future__ import annotations

import logging
import ssl
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import defer
from sqlmodel import Session, select

from outreach.db import session_scope
from outreach.errors import DatabaseError, ImapError, SettingsError
from outreach.lifecycle import set_enrollment_status_many, transition_many
from outreach.models import (
    Campaign,
    Contact,
    Enrollment,
    Event,
    Inbound,
    MailboxState,
    Message,
    Step,
)
from outreach.replies.classify import ClassificationResult, classify
from outreach.replies.imap import ImapConfig, ImapMailbox
from outreach.replies.match import Lookup, Matcher, MatchResult, lookup_for, usable_param
from outreach.replies.parse import ParsedInbound, parse_inbound
from outreach.replies.snippet import snippet
from outreach.replies.sources import iter_files
from outreach.repository.campaigns import get_campaign
from outreach.repository.suppressions import suppress_many
from outreach.settings import Settings
from outreach.states import UNSENT, Classification, EnrollmentStatus, MessageStatus

log = logging.getLogger(__name__)

C = Classification
ACTOR = "replies"
SNIPPET_CHARS = 200
#: Received dates further ahead of ``now`` than this are not believed (``now`` is stored).
_FUTURE_SLACK = timedelta(days=1)
_BOUNCE_KINDS = frozenset({C.BOUNCE_HARD, C.BOUNCE_SOFT, C.REJECTED})
#: Enrollment outcomes by strength: an effect only moves an enrollment to a stronger one.
_STRENGTH = {
    EnrollmentStatus.ACTIVE: 0,
    EnrollmentStatus.COMPLETED: 0,
    EnrollmentStatus.REPLIED: 1,
    EnrollmentStatus.BOUNCED: 2,
    EnrollmentStatus.UNSUBSCRIBED: 3,
}


class ImapNotConfigured(ImapError):
    """IMAP is not configured: set OUTREACH_IMAP_HOST, OUTREACH_IMAP_USERNAME and OUTREACH_IMAP_PASSWORD."""


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IntakeReport:
    """What one intake run did.

    ``processed``: messages newly stored; ``duplicates``: messages already stored (or repeated
    in the input), which changed nothing; ``by_class``: newly stored messages by
    classification; ``unmatched``: newly stored messages that matched no letter; ``errors``:
    messages stored raw with an error (unparseable, or refused by the database). ``source``
    names where they came from; ``rescanned`` is true when a changed UIDVALIDITY forced a
    re-scan of the IMAP mailbox.
    """

    processed: int = 0
    duplicates: int = 0
    by_class: Mapping[str, int] = field(default_factory=dict)
    unmatched: int = 0
    errors: int = 0
    source: str | None = None
    rescanned: bool = False

    def __add__(self, other: IntakeReport) -> IntakeReport:
        counts = Counter(self.by_class)
        counts.update(other.by_class)
        return IntakeReport(
            processed=self.processed + other.processed,
            duplicates=self.duplicates + other.duplicates,
            by_class=dict(counts),
            unmatched=self.unmatched + other.unmatched,
            errors=self.errors + other.errors,
            source=self.source or other.source,
            rescanned=self.rescanned or other.rescanned,
        )

    def __str__(self) -> str:
        classes = ", ".join(f"{k} {v}" for k, v in sorted(self.by_class.items()) if v)
        where = f"{self.source}: " if self.source else ""
        return (
            f"replies {where}{self.processed} new"
            + (f" ({classes})" if classes else "")
            + f", {self.duplicates} duplicate{'s' if self.duplicates != 1 else ''}"
            + f", {self.unmatched} unmatched, {self.errors} error{'s' if self.errors != 1 else ''}"
            + (" (UIDVALIDITY changed: mailbox re-scanned)" if self.rescanned else "")
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "by_class": dict(self.by_class)}


# --- preparing (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Item:
    source: str
    parsed: ParsedInbound
    result: ClassificationResult
    lookup: Lookup
    message_id: str | None


def _prepare(
    source: str, raw: bytes, *, max_bytes: int, unsubscribe_addresses: frozenset[str]
) -> _Item:
    parsed = parse_inbound(raw, max_bytes=max_bytes)
    try:
        result = classify(parsed, unsubscribe_addresses=unsubscribe_addresses)
    except Exception as exc:  # classify promises not to raise; the run goes on if it does
        log.exception("classifier failed on %s", source)
        result = ClassificationResult(C.UNPARSEABLE, f"classifier failed: {type(exc).__name__}")
    try:
        lookup = lookup_for(parsed, is_bounce=result.kind in _BOUNCE_KINDS)
    except Exception:
        log.exception("match keys failed on %s", source)
        from outreach.replies.classify import MatchKeys

        lookup = Lookup(keys=MatchKeys((), (), None))
    mid = _clean(parsed.message_id, 998)
    return _Item(_clean(source, 1000) or "", parsed, result, lookup, mid)


def _clean(value: str | None, limit: int) -> str | None:
    """A string any database accepts: no NUL, no lone surrogates, at most ``limit`` chars."""
    if value is None:
        return None
    value = value.replace("\x00", " ")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value[:limit]


def _received(p: ParsedInbound, now: datetime) -> datetime:
    date = p.date
    if date is None or date > now + _FUTURE_SLACK or date.year < 1980:
        return now
    return date


# --- ingest -------------------------------------------------------------------------------------


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
    (what was committed before stays committed; running again is harmless). ``progress`` is called with the number
    of messages handled after each batch. ``now`` is the intake time (stored as
    ``created_at``, and the reference for the sender match's recency window).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    report = IntakeReport()
    chunk: list[_Item] = []
    for source, raw in items:
        chunk.append(
            _prepare(
                source,
                raw,
                max_bytes=settings.inbound_max_bytes,
                unsubscribe_addresses=unsubscribe_addresses,
            )
        )
        if len(chunk) >= batch:
            report += _ingest_batch(engine, chunk, now=now, actor=actor)
            if progress is not None:
                progress(len(chunk))
            chunk = []
    if chunk:
        report += _ingest_batch(engine, chunk, now=now, actor=actor)
        if progress is not None:
            progress(len(chunk))
    return report


def _ingest_batch(
    engine: Engine, items: Sequence[_Item], *, now: datetime, actor: str
) -> IntakeReport:
    try:
        with session_scope(engine) as session:
            return _store(session, items, now=now, actor=actor)
    except Exception as exc:
        if len(items) > 1:
            log.warning(
                "reply batch of %d failed (%s); retrying one message at a time",
                len(items),
                _describe(exc),
            )
            report = IntakeReport()
            for item in items:
                report += _ingest_batch(engine, [item], now=now, actor=actor)
            return report
        if isinstance(exc, OperationalError):
            # the database itself is unusable (down, locked, deadlocked twice): fail the run
            # rather than store the message as unprocessable; nothing of this batch is kept
            raise DatabaseError(
                f"reply intake: the database refused {items[0].source}: {_describe(exc)}"
            ) from exc
        item = items[0]
        log.warning("reply %s could not be processed: %s", item.source, _describe(exc))
        with session_scope(engine) as session:
            return _store_raw_only(session, item, now=now, actor=actor, error=_describe(exc))


def _describe(exc: BaseException) -> str:
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {detail[0][:300] if detail else ''}"


def _store_raw_only(
    session: Session, item: _Item, *, now: datetime, actor: str, error: str
) -> IntakeReport:
    """The last resort for one message the full path could not store: raw bytes and the error."""
    p = item.parsed
    if session.exec(select(Inbound.id).where(Inbound.raw_sha256 == p.raw_sha256)).first():
        return IntakeReport(duplicates=1)
    row = {
        **_row(item, MatchResult(), item.result, now=now),
        "classification": C.UNPARSEABLE.value,
        "reason": "stored raw after an intake failure",
        "error": _clean(error, 2000),
        "matched_message_id": None,
        "contact_id": None,
        "campaign_id": None,
        "match_method": None,
    }
    ids = _insert(session, [row])
    if not ids:
        return IntakeReport(duplicates=1)
    _inbound_events(session, [(ids[p.raw_sha256], row)], now=now, actor=actor)
    return IntakeReport(processed=1, by_class={C.UNPARSEABLE.value: 1}, unmatched=1, errors=1)


def _row(
    item: _Item, m: MatchResult, result: ClassificationResult, *, now: datetime
) -> dict[str, Any]:
    p = item.parsed
    text_snippet = ""
    if not p.oversize and p.error is None:
        text_snippet = snippet(p.text, SNIPPET_CHARS)
    return {
        "message_id": item.message_id,
        "in_reply_to": [_clean(i, 998) for i in p.in_reply_to[:20]],
        "references": [_clean(i, 998) for i in p.references[-50:]],
        "from_addr": _clean(p.from_addr, 320),
        "subject": _clean(p.subject, 2000),
        "received_at": _received(p, now),
        "classification": result.kind.value,
        "reason": _clean(result.reason, 2000),
        "bounce_status": _clean(result.bounce_status, 20),
        "matched_message_id": m.message.id if m.message is not None else None,
        "contact_id": m.contact_id,
        "campaign_id": m.campaign_id,
        "match_method": m.method,
        "raw": p.raw,
        "raw_sha256": p.raw_sha256,
        "raw_size": p.size,
        "snippet": _clean(text_snippet, SNIPPET_CHARS * 2) or None,
        "error": _clean(p.error, 2000),
        "source": item.source,
        "created_at": now,
    }


def _dialect_insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def _insert(session: Session, rows: list[dict[str, Any]]) -> dict[str, int]:
    """Insert ``rows`` (``ON CONFLICT (raw_sha256) DO NOTHING``); ``{sha256: id}`` of new rows.

    A row another process stored meanwhile is silently skipped (it is then a duplicate).
    """
    if not rows:
        return {}
    insert = _dialect_insert(session)
    stmt = (
        insert(_INBOUND)
        .on_conflict_do_nothing(index_elements=["raw_sha256"])
        .returning(_INBOUND.c.id, _INBOUND.c.raw_sha256)
    )
    result = session.execute(stmt, rows)
    return {sha: iid for iid, sha in result.all()}


def _inbound_events(
    session: Session, rows: Sequence[tuple[int, dict[str, Any]]], *, now: datetime, actor: str
) -> None:
    """One audit row per stored inbound message (not a state change: a record of arrival)."""
    if not rows:
        return
    session.execute(
        sa.insert(_EVENT),
        [
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
        ],
    )


def _store(session: Session, items: Sequence[_Item], *, now: datetime, actor: str) -> IntakeReport:
    """Store one batch and apply its effects, in the caller's transaction."""
    # 1. duplicates: inside the batch, then against what is stored
    fresh: list[_Item] = []
    seen_sha: set[str] = set()
    seen_mid: set[str] = set()
    duplicates = 0
    for item in items:
        sha, mid = item.parsed.raw_sha256, item.message_id
        if sha in seen_sha or (mid is not None and mid in seen_mid):
            duplicates += 1
            continue
        seen_sha.add(sha)
        if mid is not None:
            seen_mid.add(mid)
        fresh.append(item)
    stored_sha: set[str] = set()
    stored_mid: set[str] = set()
    for chunk in _chunked(sorted(seen_sha)):
        stored_sha.update(
            session.exec(select(Inbound.raw_sha256).where(Inbound.raw_sha256.in_(chunk)))
        )
    for chunk in _chunked(sorted(seen_mid)):
        stored_mid.update(
            m
            for m in session.exec(select(Inbound.message_id).where(Inbound.message_id.in_(chunk)))
            if m
        )
    new: list[_Item] = []
    for item in fresh:
        if item.parsed.raw_sha256 in stored_sha or (
            item.message_id is not None and item.message_id in stored_mid
        ):
            duplicates += 1
        else:
            new.append(item)
    if not new:
        return IntakeReport(duplicates=duplicates)

    # 2. match the whole batch
    matcher = Matcher(session, [item.lookup for item in new], now=now)
    matches = [matcher.match(item.lookup) for item in new]

    # 3. soft bounces: the third in a row for a contact counts as hard
    results = _promote_soft_bounces(session, new, matches)

    # 4. store
    rows = [_row(item, m, r, now=now) for item, m, r in zip(new, matches, results, strict=True)]
    ids = _insert(session, rows)
    stored = [
        (ids[row["raw_sha256"]], item, m, r, row)
        for item, m, r, row in zip(new, matches, results, rows, strict=True)
        if row["raw_sha256"] in ids
    ]
    duplicates += len(new) - len(stored)
    _inbound_events(session, [(iid, row) for iid, _, _, _, row in stored], now=now, actor=actor)

    # 5. effects (rule 4)
    _apply_effects(
        session, [(iid, item, m, r) for iid, item, m, r, _ in stored], now=now, actor=actor
    )

    by_class = Counter(row["classification"] for *_, row in stored)
    return IntakeReport(
        processed=len(stored),
        duplicates=duplicates,
        by_class=dict(by_class),
        unmatched=sum(1 for _, _, m, _, _ in stored if not m.matched),
        errors=sum(1 for *_, row in stored if row["error"]),
    )


def _chunked(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _promote_soft_bounces(
    session: Session, items: Sequence[_Item], matches: Sequence[MatchResult]
) -> list[ClassificationResult]:
    """Results with a soft bounce turned hard when the contact's two previous inbound
    messages (stored, or earlier in this batch) were soft bounces too."""
    results = [item.result for item in items]
    soft_contacts = {
        m.contact_id
        for item, m in zip(items, matches, strict=True)
        if item.result.kind == C.BOUNCE_SOFT and m.contact_id is not None
    }
    if not soft_contacts:
        return results
    history: dict[int, list[str]] = {}
    for cid in soft_contacts:
        last = list(
            session.exec(
                select(Inbound.classification)
                .where(Inbound.contact_id == cid)
                .order_by(Inbound.id.desc())  # type: ignore[union-attr]
                .limit(2)
            )
        )
        history[cid] = list(reversed(last))
    for i, (item, m) in enumerate(zip(items, matches, strict=True)):
        cid = m.contact_id
        if cid is None or cid not in history:
            continue
        kind = item.result.kind
        if kind == C.BOUNCE_SOFT and history[cid][-2:] == [C.BOUNCE_SOFT.value] * 2:
            results[i] = ClassificationResult(
                C.BOUNCE_HARD,
                f"third soft bounce in a row; {item.result.reason}"[:2000],
                item.result.bounce_status,
                item.result.bounced_address,
            )
        history[cid].append(kind.value)
    return results


@dataclass
class _Effects:
    """What one batch's messages do to enrollments, suppressions and unsent mail."""

    enrollment: dict[tuple[int, int | None], tuple[EnrollmentStatus, int, str]] = field(
        default_factory=dict
    )  # (contact, campaign or None = all) -> (status, inbound id, reason)
    cancel: list[tuple[int, int | None, str]] = field(default_factory=list)
    suppress: dict[str, tuple[str, str]] = field(default_factory=dict)

    def want(
        self, contact: int, campaign: int | None, status: EnrollmentStatus, iid: int, why: str
    ) -> None:
        key = (contact, campaign)
        old = self.enrollment.get(key)
        if old is None or _STRENGTH[status] > _STRENGTH[old[0]]:
            self.enrollment[key] = (status, iid, why)


def _apply_effects(
    session: Session,
    stored: Sequence[tuple[int, _Item, MatchResult, ClassificationResult]],
    *,
    now: datetime,
    actor: str,
) -> None:
    fx = _Effects()
    for iid, item, m, r in stored:
        kind = r.kind
        if kind == C.HUMAN and m.contact_id is not None and m.campaign_id is not None:
            fx.want(m.contact_id, m.campaign_id, EnrollmentStatus.REPLIED, iid, "replied")
            fx.cancel.append((m.contact_id, m.campaign_id, "replied"))
        elif kind in (C.BOUNCE_HARD, C.UNSUBSCRIBE):
            status = (
                EnrollmentStatus.BOUNCED if kind == C.BOUNCE_HARD else EnrollmentStatus.UNSUBSCRIBED
            )
            why = "bounced" if kind == C.BOUNCE_HARD else "unsubscribed"
            address = r.bounced_address if kind == C.BOUNCE_HARD else item.parsed.from_addr
            if m.contact_id is not None:
                fx.want(m.contact_id, None, status, iid, why)
                fx.cancel.append((m.contact_id, None, why))
                address = None  # the contact's own address is suppressed below
                fx.suppress.setdefault(
                    f"#{m.contact_id}", (kind.value, f"inbound {iid}: {r.reason}")
                )
            if address and usable_param(address, 320):
                fx.suppress.setdefault(address, (kind.value, f"inbound {iid}: {r.reason}"))
    if not (fx.enrollment or fx.cancel or fx.suppress):
        return

    contact_ids = sorted({c for c, _ in fx.enrollment} | {c for c, _, _ in fx.cancel})
    emails: dict[int, str] = {}
    enrollments: list[Enrollment] = []
    unsent: list[tuple[int, str, int, int]] = []
    for chunk in _chunked(contact_ids):
        emails.update(
            (cid, email)
            for cid, email in session.exec(
                select(Contact.id, Contact.email).where(Contact.id.in_(chunk))
            )  # type: ignore[union-attr]
            if cid is not None
        )
        enrollments.extend(session.exec(select(Enrollment).where(Enrollment.contact_id.in_(chunk))))
        unsent.extend(
            session.exec(
                select(Message.id, Message.status, Message.contact_id, Message.campaign_id).where(
                    Message.contact_id.in_(chunk),
                    Message.status.in_([s.value for s in UNSENT]),  # type: ignore[attr-defined]
                )
            )  # type: ignore[arg-type]
        )

    # suppressions first: the dispatcher's send-time check reads them
    entries = []
    for key, (reason, detail) in fx.suppress.items():
        address = emails.get(int(key[1:])) if key.startswith("#") else key
        if address:
            entries.append((address, reason, _clean(detail, 2000)))
    suppress_many(session, entries, now=now)

    enrollments_of: dict[int, list[Enrollment]] = {}
    for enr in enrollments:
        enrollments_of.setdefault(enr.contact_id, []).append(enr)
    unsent_of: dict[int, list[tuple[int, str, int]]] = {}
    for mid, status, m_cid, m_campaign in unsent:
        unsent_of.setdefault(m_cid, []).append((mid, status, m_campaign))

    target: dict[int, tuple[Enrollment, EnrollmentStatus, int, str]] = {}
    for (cid, campaign_id), (status, iid, why) in fx.enrollment.items():
        for enr in enrollments_of.get(cid, ()):
            if campaign_id is not None and enr.campaign_id != campaign_id:
                continue
            assert enr.id is not None
            best = target[enr.id][1] if enr.id in target else EnrollmentStatus(enr.status)
            if _STRENGTH[status] > _STRENGTH[best]:
                target[enr.id] = (enr, status, iid, why)
    set_enrollment_status_many(session, list(target.values()), now=now, actor=actor)

    by_reason_status: dict[tuple[str, str], list[int]] = {}
    taken: set[int] = set()
    for cid, campaign_id, why in fx.cancel:
        for mid, status, m_campaign in unsent_of.get(cid, ()):
            if campaign_id is not None and m_campaign != campaign_id:
                continue
            if mid in taken:
                continue
            taken.add(mid)
            by_reason_status.setdefault((why, status), []).append(mid)
    for (why, status), ids in by_reason_status.items():
        transition_many(
            session,
            ids,
            current=MessageStatus(status),
            to=MessageStatus.CANCELLED,
            now=now,
            actor=actor,
            reason=why,
            data={"by": "reply intake"},
        )


_EVENT = Event.__table__  # type: ignore[attr-defined]
_INBOUND = Inbound.__table__  # type: ignore[attr-defined]


# --- sources ------------------------------------------------------------------------------------


def import_paths(
    engine: Engine,
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    now: datetime,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> IntakeReport:
    """Ingest every message in ``.eml`` files, ``.mbox`` files and Maildir folders.

    Every path is checked first (:class:`~outreach.errors.IntakeError` naming a bad one, and
    nothing is stored). Files are only read: nothing is moved, renamed or flagged.
    """
    items = iter_files([Path(p) for p in paths])
    report = ingest(engine, items, settings=settings, now=now, batch=batch, progress=progress)
    return IntakeReport(
        processed=report.processed,
        duplicates=report.duplicates,
        by_class=report.by_class,
        unmatched=report.unmatched,
        errors=report.errors,
        source=f"{len(paths)} path{'s' if len(paths) != 1 else ''}",
    )


def imap_config(settings: Settings) -> ImapConfig:
    """The IMAP connection the settings describe; :class:`ImapNotConfigured` when they don't.

    TLS per ``imap_tls``; ``imap_ca_file`` (a PEM bundle) replaces the system trust store.
    """
    if not settings.imap_configured:
        raise ImapNotConfigured()
    assert settings.imap_host is not None and settings.imap_username is not None
    context = None
    if settings.imap_tls != "none":
        ca = settings.imap_ca_file
        if ca is not None and not Path(ca).is_file():
            raise SettingsError(f"setting OUTREACH_IMAP_CA_FILE: {ca}: no such file")
        try:
            context = ssl.create_default_context(cafile=str(ca) if ca is not None else None)
        except (ssl.SSLError, OSError) as exc:
            raise SettingsError(
                f"setting OUTREACH_IMAP_CA_FILE: {ca}: not a PEM certificate bundle ({exc})"
            ) from None
    password = settings.imap_password.get_secret_value() if settings.imap_password else ""
    return ImapConfig(
        host=settings.imap_host,
        port=settings.imap_port,
        username=settings.imap_username,
        password=password,
        tls=settings.imap_tls,
        mailbox=settings.imap_mailbox,
        ssl_context=context,
    )


def mailbox_key(config: ImapConfig) -> str:
    """The ``mailbox_state`` key of a mailbox: ``user@host/mailbox`` (no port, no password)."""
    return f"{config.username}@{config.host}/{config.mailbox}"[:500]


def fetch_mailbox(
    engine: Engine,
    *,
    settings: Settings,
    now: datetime,
    batch: int = 200,
    config: ImapConfig | None = None,
    progress: Callable[[int], None] | None = None,
) -> IntakeReport:
    """Poll the IMAP mailbox once: fetch what arrived since the last poll and ingest it.

    Read-only on the server (EXAMINE, ``BODY.PEEK[]``: no flag set, nothing deleted). The
    highest UID processed is stored in ``mailbox_state`` only after each batch's commit; a
    changed UIDVALIDITY re-scans the whole mailbox, and de-duplication (same bytes or
    Message-ID) keeps that from storing or acting on anything twice. ``config`` overrides the
    connection built from ``settings`` (tests). Raises :class:`ImapError` (one line, no
    password) when the server cannot be used; what was committed before stays committed.
    """
    config = config or imap_config(settings)
    key = mailbox_key(config)
    report = IntakeReport(source=f"imap {config.label}")
    with ImapMailbox(config) as box:
        uidvalidity, _uidnext = box.select()
        with session_scope(engine) as session:
            state = session.get(MailboxState, key)
            stored = (state.uidvalidity, state.last_uid) if state is not None else None
        last_uid = 0
        if stored is not None and stored[0] == uidvalidity:
            last_uid = stored[1]
        elif stored is not None:
            log.warning(
                "UIDVALIDITY of %s changed (%s -> %s): re-scanning the mailbox",
                key,
                stored[0],
                uidvalidity,
            )
            report = IntakeReport(source=report.source, rescanned=True)
        if stored is None or stored[0] != uidvalidity:
            _save_state(engine, key, uidvalidity, 0, now=now)
        for chunk in box.fetch_since(last_uid, batch):
            labelled = [
                (f"imap:{key};uidvalidity={uidvalidity};uid={uid}", raw) for uid, raw in chunk
            ]
            report += ingest(
                engine, labelled, settings=settings, now=now, batch=len(labelled), progress=progress
            )
            _save_state(engine, key, uidvalidity, max(uid for uid, _ in chunk), now=now)
    return report


def _save_state(
    engine: Engine, key: str, uidvalidity: int, last_uid: int, *, now: datetime
) -> None:
    """Record ``(uidvalidity, last_uid)``: a new UIDVALIDITY replaces the row; the same one
    only ever raises ``last_uid`` (two pollers never move it backwards)."""
    with session_scope(engine) as session:
        insert = _dialect_insert(session)
        result = session.execute(
            insert(MailboxState)
            .values(mailbox=key, uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
            .on_conflict_do_nothing(index_elements=["mailbox"])
        )
        if result.rowcount == 1:
            return
        session.execute(
            sa.update(MailboxState)
            .where(
                MailboxState.mailbox == key,
                sa.or_(
                    MailboxState.uidvalidity != uidvalidity,
                    MailboxState.last_uid < last_uid,
                ),
            )
            .values(uidvalidity=uidvalidity, last_uid=last_uid, updated_at=now)
        )


# --- listing ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyItem:
    """One stored inbound message as ``outreach replies list`` shows it (see README §Replies)."""

    id: int
    received_at: datetime
    classification: str
    reason: str | None
    from_addr: str | None
    subject: str | None
    snippet: str | None
    contact: str | None
    contact_name: str | None
    campaign: str | None
    step: str | None
    matched_message_id: str | None
    matched_subject: str | None
    match_method: str | None
    bounce_status: str | None
    message_id: str | None
    error: str | None
    source: str | None
    raw_size: int


def list_replies(
    session: Session,
    *,
    campaign: str | None = None,
    classification: Classification | str | None = None,
    unmatched: bool = False,
    limit: int | None = None,
) -> list[ReplyItem]:
    """Stored inbound mail, newest first, with the contact, campaign, step and letter it
    answers. ``campaign`` must be a loaded campaign's slug (:class:`NotFoundError` otherwise);
    ``unmatched`` lists only mail that matched no letter."""
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
    if campaign is not None:
        found = get_campaign(session, slug=campaign)
        query = query.where(Inbound.campaign_id == found.id)
    if classification is not None:
        query = query.where(Inbound.classification == Classification(classification).value)
    if unmatched:
        query = query.where(Inbound.match_method.is_(None))  # type: ignore[union-attr]
    if limit is not None:
        query = query.limit(limit)
    out = []
    for inbound, email, name, slug, step, mid, msubject in session.exec(query):
        assert inbound.id is not None
        out.append(
            ReplyItem(
                id=inbound.id,
                received_at=inbound.received_at,
                classification=inbound.classification,
                reason=inbound.reason,
                from_addr=inbound.from_addr,
                subject=inbound.subject,
                snippet=inbound.snippet,
                contact=email,
                contact_name=name,
                campaign=slug,
                step=step,
                matched_message_id=mid,
                matched_subject=msubject,
                match_method=inbound.match_method,
                bounce_status=inbound.bounce_status,
                message_id=inbound.message_id,
                error=inbound.error,
                source=inbound.source,
                raw_size=inbound.raw_size,
            )
        )
    return out
