"""``outreach contacts erase``: a person's data removed everywhere outreach keeps it (GDPR
Art. 17), keeping only what honouring the erasure needs.

In one transaction, for each address: unsent letters (and those whose fate is unknown) are
cancelled through the lifecycle; every letter loses its words (bytes, subject, bodies, render
context, recipient, server replies, approval notes) and its one-click unsubscribe token's hash
(the link in the person's copy then leads to the console's "unknown link" page); received mail that came from the person,
answers or bounces one of their letters, or names their address or name anywhere is reduced to
its classification and match; event payloads about their letters, enrollments and mail are
emptied, and any other event or job line quoting their address or name has it replaced by
``[erased]``; their suppression row is replaced by a keyed hash (:mod:`outreach.privacy.tokens`),
so that an import or a plan never brings them back; the contact row becomes an empty tombstone,
so that the funnel's counts stay. One ``erased`` event records the reason (with the address and
name taken out), the actor and the counts — not who was erased.

On SQLite, the freed space is overwritten (``secure_delete``), the file rebuilt (``VACUUM``) and
the write-ahead log truncated, so that no copy lingers in the file; see docs/personal-data.md
for PostgreSQL and backups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from outreach.contact_fields import normalise_email
from outreach.db import Engine, Session, session_scope
from outreach.errors import PrivacyError
from outreach.lifecycle import transition_many
from outreach.privacy.audit import record_privacy_event
from outreach.privacy.keys import ensure_key, key_source
from outreach.privacy.redact import Needles
from outreach.privacy.tokens import ERASED_REASON, erasure_check, erasure_token
from outreach.repository import erasure as rows
from outreach.repository.retention import inbound_pages, reduce_inbound, set_labels
from outreach.repository.suppressions import lift, suppress
from outreach.settings import Settings
from outreach.states import MessageStatus


@dataclass(frozen=True)
class ErasureCounts:
    """What one erasure touched: addresses asked for, contact rows emptied, letters emptied
    (of which cancelled), received messages reduced, events rewritten."""

    addresses: int
    contacts: int
    letters: int
    cancelled: int
    inbound: int
    events: int


@dataclass(frozen=True)
class ErasureReport:
    """An erasure's counts; the key file it created (None: the key existed); whether the
    SQLite file was rebuilt with its log truncated (None on PostgreSQL)."""

    counts: ErasureCounts
    key_created: Path | None
    compacted: bool | None


def erase_people(
    engine: Engine,
    emails: Sequence[str],
    *,
    reason: str,
    actor: str,
    settings: Settings,
    now: datetime,
) -> ErasureReport:
    """Erase the people with these addresses (see the module docstring), all or nothing.

    Refused with one line (:class:`PrivacyError`), nothing changed, for a bad address, an
    empty reason, or a letter to one of them being sent right now (erase again in a minute).
    """
    addresses = sorted({_address(e) for e in emails})
    why = " ".join((reason or "").split())
    if not why:
        raise PrivacyError("--reason: say why (the request, its date; recorded with the erasure)")
    key, created = ensure_key(settings)
    with session_scope(engine) as session, rows.secure_delete(session):
        erasure_check(key, rows.erased_tokens(session), key_source=key_source(settings))
        counts = _erase(session, addresses, key=key, reason=why, actor=actor, now=now)
    return ErasureReport(counts, created, rows.compact_sqlite(engine))


def _address(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise PrivacyError(f"email: {exc}") from None


def _erase(
    session: Session, addresses: list[str], *, key: bytes, reason: str, actor: str, now: datetime
) -> ErasureCounts:
    """Everything :func:`erase_people` does inside its transaction."""
    contacts = rows.live_contacts(session, emails=addresses)
    contact_ids = [c.id for c in contacts if c.id is not None]
    letters = rows.messages_of(session, contact_ids=contact_ids)
    busy = [m.id for m in letters if m.status == MessageStatus.SENDING.value]
    if busy:
        raise PrivacyError(
            f"letter {busy[0]} to this person is being sent right now; nothing was erased — "
            "erase again in a minute"
        )
    needles = Needles.of(addresses, [c.name for c in contacts])
    cancelled = _cancel_unsent(session, letters, actor=actor, now=now)
    letter_ids = [m.id for m in letters]
    rows.empty_messages(session, ids=letter_ids, now=now)
    inbound = _reduce_mail(session, needles, addresses, contact_ids, letter_ids, now=now)
    own = {("message", i) for i in letter_ids} | {("inbound", i) for i in inbound}
    own |= {("enrollment", i) for i in rows.enrollment_ids_of(session, contact_ids=contact_ids)}
    events = _rewrite_events(session, needles, own)
    _rewrite_notes(session, needles)
    lift(session, emails=addresses)
    for address in addresses:
        token = erasure_token(key, address)
        suppress(session, email=token, reason=ERASED_REASON, detail=None, now=now, actor=actor)
    rows.make_tombstones(session, contact_ids=contact_ids, now=now)
    counts = ErasureCounts(
        len(addresses), len(contact_ids), len(letters), cancelled, len(inbound), events
    )
    record_privacy_event(
        session,
        action="erased",
        reason=needles.redact(reason),
        data=counts.__dict__,
        now=now,
        actor=actor,
    )
    return counts


def _cancel_unsent(
    session: Session, letters: Iterable[rows.HeldMessage], *, actor: str, now: datetime
) -> int:
    """Cancel the letters not sent (or not known to be), through the lifecycle; how many."""
    by_state: dict[str, list[int]] = {}
    for m in letters:
        if m.status in rows.unsent_states():
            by_state.setdefault(m.status, []).append(m.id)
    cancelled = 0
    for state, ids in sorted(by_state.items()):
        moved = transition_many(
            session,
            ids,
            current=MessageStatus(state),
            to=MessageStatus.CANCELLED,
            now=now,
            actor=actor,
            reason="contact erased",
        )
        cancelled += len(moved)
    return cancelled


def _reduce_mail(
    session: Session,
    needles: Needles,
    addresses: Sequence[str],
    contact_ids: Sequence[int],
    letter_ids: Sequence[int],
    *,
    now: datetime,
) -> set[int]:
    """Reduce every received message from, about or naming the people; their ids."""
    people, letters, senders = set(contact_ids), set(letter_ids), set(addresses)
    found: set[int] = set()
    for page in inbound_pages(session):
        for row in page:
            if (
                row.contact_id in people
                or row.matched_message_id in letters
                or (row.from_addr or "").lower() in senders
                or needles.found_in_bytes(row.raw)
                or any(needles.found_in(t) for t in (row.subject, row.snippet, row.reason))
                or needles.found_in(row.error)
                or needles.found_in_json(row.evidence)
            ):
                found.add(row.id)
            if needles.found_in(row.source) or needles.found_in(row.message_id):
                set_labels(
                    session,
                    inbound_id=row.id,
                    message_id=needles.redact(row.message_id),
                    source=needles.redact(row.source),
                )
    reduce_inbound(session, ids=sorted(found), now=now)
    return found


def _rewrite_events(session: Session, needles: Needles, own: set[tuple[str, int]]) -> int:
    """Empty the payloads of the people's own events and take their address and name out of
    every other event; how many events changed."""
    changed = 0
    for page in rows.event_pages(session):
        texts = []
        for e in page:
            if (e.entity, e.entity_id) in own and (e.data or needles.found_in(e.reason)):
                texts.append(e._replace(reason=needles.redact(e.reason), data={}))
            elif needles.found_in(e.reason) or needles.found_in_json(e.data):
                texts.append(
                    e._replace(reason=needles.redact(e.reason), data=needles.redact_json(e.data))
                )
        rows.rewrite_events(session, texts=texts)
        changed += len(texts)
    return changed


def _rewrite_notes(session: Session, needles: Needles) -> None:
    """Take the people's address and name out of reviewers' notes and the daemon's job
    lines."""
    notes = rows.approval_notes(session)
    rows.set_approval_notes(
        session, notes={i: needles.redact(n) for i, n in notes.items() if needles.found_in(n)}
    )
    details = rows.job_details(session)
    rows.set_job_details(
        session,
        details={i: needles.redact(d) for i, d in details.items() if needles.found_in(d)},
    )
