"""The dispatcher's database round (DESIGN.md rules 2 and 3): one transaction that records how
finished attempts ended and marks ``data_sent`` the messages whose DATA is about to start.

What bounds a crash is when outcomes are written (see :mod:`.driver`): a connection asks for
its next message's mark only after its previous message's outcome is pending, and the driver
hands a round the pending outcomes whenever that many of them are of marked attempts that the
next commit could otherwise leave more than ``UNRECORDED_PER_CONNECTION`` per connection
``data_sent`` without an outcome. Outcomes and marks go in one commit, outcomes first. Every
write is guarded by the lease token: a dispatcher that lost its lease changes nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.dispatch.claims import StaleCheck, StaleRerender
from outreach.dispatch.values import Claim, Outcome
from outreach.lifecycle import OwnedMove, set_enrollment_status, transition_owned
from outreach.repository import attempts, outbox
from outreach.repository.attempts import InFlight
from outreach.repository.suppressions import suppress
from outreach.retry import describe
from outreach.states import AttemptPhase, EnrollmentStatus, MessageStatus

__all__ = [
    "RoundResult",
    "StaleCheck",
    "StaleRerender",
    "mark_in_flight",
    "record_outcomes",
    "run_round",
]

#: Where each recorded outcome kind moves a message.
_OUTCOME_TARGET = {
    "sent": MessageStatus.SENT,
    "retrying": MessageStatus.RETRYING,
    "failed": MessageStatus.FAILED,
    "unknown": MessageStatus.UNKNOWN,
    "released": MessageStatus.APPROVED,
}


@dataclass(frozen=True)
class RoundResult:
    """What one :func:`run_round` wrote: outcome counts by kind (plus ``lost_lease``) and the
    ids marked ``data_sent`` (the others of the marks asked for must not be sent)."""

    written: Counter[str]
    marked: frozenset[int]


def run_round(
    session: Session,
    outcomes: Sequence[Outcome],
    marks: Sequence[Claim],
    *,
    now: datetime,
    actor: str,
) -> RoundResult:
    """In the caller's one transaction: :func:`record_outcomes` for ``outcomes``, then
    :func:`mark_in_flight` for ``marks``. The caller commits before any DATA of the marked
    messages."""
    written = record_outcomes(session, outcomes, now=now, actor=actor) if outcomes else Counter()
    return RoundResult(written, frozenset(mark_in_flight(session, marks, now=now)))


def mark_in_flight(session: Session, claims: Sequence[Claim], *, now: datetime) -> set[int]:
    """Record each of ``claims`` ``data_sent`` (an ``attempt`` row) while its lease still
    holds — before any of its DATA is sent (DESIGN.md rule 2). Returns the ids marked."""
    if not claims:
        return set()
    return attempts.mark_data_sent(
        session,
        marks=[
            InFlight(c.message_id, c.lease_token, c.attempt, c.claimed_at or now) for c in claims
        ],
        now=now,
    )


def record_outcomes(
    session: Session, outcomes: Sequence[Outcome], *, now: datetime, actor: str
) -> Counter[str]:
    """Write attempt outcomes, each guarded by its lease token — one lease-guarded update per
    outcome kind for the message rows, one for their ``data_sent`` attempt rows, one insert for
    the attempts that ended before DATA, one for the events. Returns counts by kind, plus
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
        done = {m.message_id for m in applied}
        _insert_unmarked_attempts(session, [o for o in items if o.claim.message_id in done])
        if kind == "failed":
            for o in items:
                if o.bounce and o.claim.message_id in done:
                    _record_bounce(session, o, now=now, actor=actor)
    return counts


def _attempt_columns(o: Outcome) -> dict[str, Any]:
    return {
        "finished_at": o.at,
        "phase": o.phase,
        "outcome": o.kind,
        "smtp_code": o.code,
        "smtp_response": o.response,
    }


def _insert_unmarked_attempts(session: Session, outcomes: Sequence[Outcome]) -> None:
    """The ``attempt`` rows of attempts that ended before DATA was marked — retried or failed
    at connect, MAIL or RCPT (a released claim never reached the server: no row)."""
    rows = [
        {
            "message_id": o.claim.message_id,
            "number": o.claim.attempt,
            "lease_token": o.claim.lease_token,
            "started_at": o.claim.claimed_at or o.at,
            **_attempt_columns(o),
        }
        for o in outcomes
        if not o.marked and o.kind != "released"
    ]
    attempts.insert_finished_attempts(session, rows=rows)


def _outcome_move(o: Outcome) -> OwnedMove:
    """The lease-guarded move that records ``o`` on its message row (and on its ``data_sent``
    attempt row when it was marked)."""
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
    attempt = _attempt_columns(o) if o.marked else None
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
