"""The dispatcher's database rounds: check the next chunks just before they are sent, and
record how finished attempts ended (DESIGN.md rules 1, 2, 3 and 5).

Each round is one transaction owned by the caller (:func:`record_and_prepare`): the outcomes
pending so far are written, then every chunk the connections asked for is checked and the rows
that pass are recorded ``data_sent`` — before any of their MAIL/RCPT/DATA is sent, so a crash
can only leave them ``unknown``, never resent. Every write is guarded by the lease token: a
dispatcher that lost its lease changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from outreach.db import Session
from outreach.dispatch.checks import SendCheck, Verdict, check_chunk, still_held
from outreach.dispatch.claims import campaign_infos
from outreach.dispatch.values import Claim, Outcome, PreparedChunk
from outreach.lifecycle import OwnedMove, set_enrollment_status, transition_owned
from outreach.models import Message
from outreach.repository import outbox
from outreach.repository.outbox import ChunkRow
from outreach.repository.review import delete_approvals
from outreach.repository.suppressions import suppress, suppressed_emails
from outreach.retry import describe
from outreach.states import AttemptPhase, EnrollmentStatus, MessageStatus

#: ``stale_check(session, message, today) -> reason | None``: asked when a message goes out on
#: another day than the one it was rendered for; a reason sends it back to review.
StaleCheck = Callable[[Session, Message, date], "str | None"]
#: ``rerender_stale(session, message ids, now, actor)``: called, in the same transaction, with
#: the messages just sent back to review as stale, to render them again at once.
StaleRerender = Callable[[Session, Sequence[int], datetime, str], None]

#: Where each send-time verdict moves a message, and the action its event records.
_VERDICT_MOVES = (
    (Verdict.RELEASE, MessageStatus.APPROVED, "released"),
    (Verdict.CANCEL, MessageStatus.CANCELLED, "cancelled"),
    (Verdict.STALE, MessageStatus.PENDING_REVIEW, "stale"),
)
#: Where each recorded outcome kind moves a message.
_OUTCOME_TARGET = {
    "sent": MessageStatus.SENT,
    "retrying": MessageStatus.RETRYING,
    "failed": MessageStatus.FAILED,
    "unknown": MessageStatus.UNKNOWN,
    "released": MessageStatus.APPROVED,
}


# ------------------------------------------------------------------------------------------
# Send-time checks


def prepare_chunk(
    session: Session,
    claims: Sequence[Claim],
    *,
    now: datetime,
    actor: str,
    lease_seconds: int,
    stale_check: StaleCheck | None = None,
    rerender_stale: StaleRerender | None = None,
) -> PreparedChunk:
    """The send-time checks (rules 1 and 5, :mod:`outreach.dispatch.checks`) for ``claims``, in
    one transaction and a fixed number of queries, then ``attempt_phase = data_sent`` (and a
    lease extended to ``now + lease_seconds``) for the rows that pass.

    Rows no longer ours are dropped (``lost_lease``); a paused campaign's go back to
    ``approved`` (attempt given back); suppressed or stopped contacts' are ``cancelled``;
    changed bytes, or a re-render for today that ``stale_check`` says differs, go back to
    ``pending_review`` with their approvals deleted (they approved other bytes), and
    ``rerender_stale`` renders them again at once. The caller must commit before sending the
    returned :class:`Ready` rows.
    """
    counts: Counter[str] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    if not claims:
        return PreparedChunk((), counts)
    by_id = {c.message_id: c for c in claims}
    held = still_held(outbox.chunk_rows(session, ids=list(by_id)), by_id)
    counts["lost_lease"] += len(by_id) - len(held)
    checks = _check_held(session, held, by_id, now=now)
    checks = [_rerendered(session, c, stale_check) for c in checks]
    for verdict, target, action in _VERDICT_MOVES:
        moves = [_check_move(c, now=now) for c in checks if c.verdict == verdict]
        exprs = outbox.release_changes() if verdict == Verdict.RELEASE else None
        applied = transition_owned(
            session, moves, to=target, now=now, actor=actor, action=action, exprs=exprs
        )
        counts[action] += len(applied)
        for move in applied:
            reasons[(action, move.reason or action)] += 1
        if verdict == Verdict.STALE and applied:
            _back_to_review(session, [m.message_id for m in applied], now, actor, rerender_stale)
    ready = tuple(c.ready for c in checks if c.ready is not None and c.verdict == Verdict.SEND)
    if not ready:
        return PreparedChunk((), counts, reasons)
    # Rule 2: recorded before any MAIL/RCPT/DATA of these rows is sent.
    outbox.mark_data_sent(
        session,
        held=[(r.claim.message_id, r.claim.lease_token) for r in ready],
        lease_expires_at=now + timedelta(seconds=lease_seconds),
    )
    return PreparedChunk(ready, counts, reasons)


def _back_to_review(
    session: Session,
    ids: Sequence[int],
    now: datetime,
    actor: str,
    rerender_stale: StaleRerender | None,
) -> None:
    """Messages just sent back to review as stale: their approvals (of other bytes) deleted,
    then rendered again at once when a re-render is wired in."""
    delete_approvals(session, message_ids=ids)
    if rerender_stale is not None:
        rerender_stale(session, ids, now, actor)


def _check_held(
    session: Session, held: Sequence[ChunkRow], by_id: Mapping[int, Claim], *, now: datetime
) -> list[SendCheck]:
    """Load what the send-time checks read — the campaigns, the suppressed addresses among the
    recipients, the enrollments — and run :func:`check_chunk` over the ``held`` rows."""
    campaigns = campaign_infos(session, ids={by_id[r.id].campaign_id for r in held})
    addresses = {r.envelope_to for r in held if r.envelope_to}
    addresses |= {a.lower() for a in addresses}
    suppressed = {e.lower() for e in suppressed_emails(session, addresses)} if addresses else set()
    enrollments = (
        outbox.enrollment_statuses(
            session,
            contact_ids={by_id[r.id].contact_id for r in held},
            campaign_ids=list(campaigns),
        )
        if held
        else {}
    )
    return check_chunk(
        held,
        by_id,
        campaigns=campaigns,
        suppressed=suppressed,
        enrollments=enrollments,
        now=now,
    )


def _rerendered(session: Session, check: SendCheck, stale_check: StaleCheck | None) -> SendCheck:
    """A ``rerender`` verdict settled: ``stale`` when ``stale_check`` gives a reason, else
    ``send`` (also when there is no stale check)."""
    if check.verdict != Verdict.RERENDER:
        return check
    reason = None
    if stale_check is not None:
        assert check.today is not None
        message = outbox.get_message(session, check.claim.message_id)
        assert message is not None
        reason = stale_check(session, message, check.today)
    if reason:
        return SendCheck(check.claim, Verdict.STALE, reason)
    return SendCheck(check.claim, Verdict.SEND, ready=check.ready)


def _check_move(check: SendCheck, *, now: datetime) -> OwnedMove:
    """The lease-guarded move for a ``release``/``cancel``/``stale`` verdict."""
    values: dict[str, Any] = {**outbox.LEASE_CLEARED, "attempt_phase": None}
    if check.verdict == Verdict.RELEASE:
        values["lease_owner"] = None
        outcome = "released"
    elif check.verdict == Verdict.CANCEL:
        outcome = "cancelled"
    else:
        values["stale_reason"] = check.reason
        outcome = "stale"
    return OwnedMove(
        check.claim.message_id,
        check.claim.lease_token,
        values,
        reason=check.reason,
        attempt={"finished_at": now, "outcome": outcome},
    )


# ------------------------------------------------------------------------------------------
# Outcomes


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, now: datetime, actor: str
) -> Counter[str]:
    """Write attempt outcomes, each guarded by its lease token; returns counts by kind, plus
    ``lost_lease`` for rows another process took over meanwhile (left untouched).

    ``failed`` with ``bounce`` also marks the enrollment ``bounced`` and suppresses the address.
    """
    counts: Counter[str] = Counter()
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.kind, []).append(o)
    for kind, items in groups.items():
        moves = [_outcome_move(o) for o in items]
        # rows with and without a due_at change must not share one executemany
        by_keys: dict[tuple[str, ...], list[OwnedMove]] = {}
        for m in moves:
            by_keys.setdefault(tuple(sorted(m.values)), []).append(m)
        applied: list[OwnedMove] = []
        for group in by_keys.values():
            applied += transition_owned(
                session,
                group,
                to=_OUTCOME_TARGET[kind],
                now=now,
                actor=actor,
                exprs=outbox.release_changes() if kind == "released" else None,
            )
        counts[kind] += len(applied)
        counts["lost_lease"] += len(moves) - len(applied)
        if kind == "failed":
            done = {m.message_id for m in applied}
            for o in items:
                if o.bounce and o.claim.message_id in done:
                    _record_bounce(session, o, now=now, actor=actor)
    return counts


def _outcome_move(o: Outcome) -> OwnedMove:
    """The lease-guarded move that records ``o`` on its message and attempt rows."""
    attempt = {
        "finished_at": o.at,
        "phase": o.phase,
        "outcome": o.kind,
        "smtp_code": o.code,
        "smtp_response": o.response,
    }
    values: dict[str, Any] = {**outbox.LEASE_CLEARED}
    reply = {"smtp_code": o.code, "smtp_response": o.response}
    if o.kind == "sent":
        values |= {"attempt_phase": AttemptPhase.DONE.value, "sent_at": o.at, **reply}
    elif o.kind == "retrying":
        values |= {
            "attempt_phase": o.phase,
            "next_attempt_at": o.next_attempt_at,
            "due_at": o.next_attempt_at,
            **reply,
        }
    elif o.kind == "failed":
        values |= {"attempt_phase": o.phase, **reply}
    elif o.kind == "unknown":
        values |= {"attempt_phase": AttemptPhase.DATA_SENT.value, **reply}
    else:  # released: never reached the server
        values |= {"attempt_phase": None, "lease_owner": None}
        if o.next_attempt_at is not None:
            values["due_at"] = o.next_attempt_at
    return OwnedMove(o.claim.message_id, o.claim.lease_token, values, o.reason, attempt)


def _record_bounce(session: Session, outcome: Outcome, *, now: datetime, actor: str) -> None:
    """A hard bounce at RCPT/DATA: the enrollment becomes ``bounced`` and the address is
    suppressed (DESIGN.md rule 4)."""
    claim = outcome.claim
    enrollment = outbox.enrollment_of(
        session, campaign_id=claim.campaign_id, contact_id=claim.contact_id
    )
    detail = describe(outcome.code, outcome.response or "")
    if enrollment is not None and enrollment.status != EnrollmentStatus.BOUNCED.value:
        set_enrollment_status(
            session, enrollment, EnrollmentStatus.BOUNCED, now=now, actor=actor, reason=detail
        )
    if outcome.envelope_to:
        suppress(session, email=outcome.envelope_to, reason="bounce", detail=detail, now=now)


def record_and_prepare(
    session: Session,
    outcomes: Sequence[Outcome],
    claims: Sequence[Claim],
    *,
    now: datetime,
    actor: str,
    lease_seconds: int,
    stale_check: StaleCheck | None = None,
    rerender_stale: StaleRerender | None = None,
) -> tuple[Counter[str], PreparedChunk]:
    """:func:`record_outcomes` then :func:`prepare_chunk`, in the caller's one transaction (the
    dispatcher's database round: one commit for the finished chunks and the next ones)."""
    written = record_outcomes(session, outcomes, now=now, actor=actor) if outcomes else Counter()
    prepared = prepare_chunk(
        session,
        claims,
        now=now,
        actor=actor,
        lease_seconds=lease_seconds,
        stale_check=stale_check,
        rerender_stale=rerender_stale,
    )
    return written, prepared
