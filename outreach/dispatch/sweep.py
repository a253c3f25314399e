"""The lease sweeper (DESIGN.md rule 2): what happens to a message whose dispatcher died.

A ``sending`` row whose lease ran out goes back to ``approved`` (its attempt given back) when
the attempt never reached DATA; one recorded ``data_sent`` (a ``data_sent`` attempt row under
its lease token) becomes ``unknown`` for an operator to resolve — SMTP cannot tell whether it
was delivered, so it is never resent by itself.
"""

from __future__ import annotations

from datetime import datetime

from outreach.db import Session
from outreach.dispatch.values import SweepCounts
from outreach.lifecycle import OwnedMove, transition_owned
from outreach.repository import outbox
from outreach.repository.attempts import data_sent_marks
from outreach.states import MessageStatus

#: The reason recorded on a message left ``unknown`` by an expired lease.
UNKNOWN_REASON = (
    "lease expired after DATA may have been sent; resolve with `outreach queue resolve`"
)


def sweep_expired(session: Session, *, now: datetime, actor: str = "sweeper") -> SweepCounts:
    """Expired leases (``sending`` and ``lease_expires_at < now``): a row whose attempt never
    reached DATA (phase ``claimed``/``connecting``) goes back to ``approved`` with its attempt
    given back; one recorded ``data_sent`` becomes ``unknown`` (an operator resolves it)."""
    rows = outbox.expired_leases(session, now=now)
    if not rows:
        return SweepCounts()
    # read after the rows are locked (see attempts.data_sent_marks)
    marked = data_sent_marks(session, held=[(r.id, r.lease_token) for r in rows])
    attempt_done = {"finished_at": now, "outcome": "expired"}
    unknown = [
        OwnedMove(r.id, r.lease_token, {**outbox.LEASE_CLEARED}, UNKNOWN_REASON, attempt_done)
        for r in rows
        if r.id in marked
    ]
    back = [
        OwnedMove(
            r.id,
            r.lease_token,
            {**outbox.LEASE_CLEARED, "lease_owner": None, "attempt_phase": None},
            f"lease expired before DATA (phase {r.attempt_phase})",
            attempt_done,
        )
        for r in rows
        if r.id not in marked
    ]
    moved_unknown = transition_owned(
        session, unknown, to=MessageStatus.UNKNOWN, now=now, actor=actor, action="lease_expired"
    )
    moved_back = transition_owned(
        session,
        back,
        to=MessageStatus.APPROVED,
        now=now,
        actor=actor,
        action="lease_expired",
        exprs=outbox.release_changes(),
    )
    return SweepCounts(released=len(moved_back), unknown=len(moved_unknown))
