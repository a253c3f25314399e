"""The suppression list as operators (CLI, web console) change it: list, add, lift.

Every change names its actor and reason and writes an ``event`` row (entity ``suppression``;
``entity_id`` is the contact's id, 0 for an address that is no contact's; the address is in the
event's data). Adding cancels the contact's unsent letters, as a hard bounce does. Lifting
deletes the row and puts the contact's ``bounced``/``unsubscribed`` enrollments back to what
they were before; it sends nothing — letters cancelled meanwhile stay cancelled, and the next
plan may plan the contact's later steps again (rule 5 checks the list again at send time).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from outreach.contact_fields import normalise_email
from outreach.db import Engine, Session, within
from outreach.errors import SuppressionError
from outreach.fieldcopy import same_named
from outreach.lifecycle import record_event, set_enrollment_status
from outreach.privacy.tokens import is_token
from outreach.replies.apply_effects import cancel_groups
from outreach.replies.effects import Cancellation, cancellations
from outreach.replies.undo import MoveFacts, Restoration, restorations, suppressing_move
from outreach.repository.events import enrollment_moves
from outreach.repository.inbound import enrollments_of_contacts, unsent_letters_of_contacts
from outreach.repository.suppressions import (
    SuppressionEntry,
    SuppressionRow,
    lift,
    list_suppressions,
    suppress,
)

#: The ``reason`` of a suppression an operator added (their words go in ``detail``).
OPERATOR_REASON = "operator"


@dataclass(frozen=True)
class SuppressionItem(SuppressionRow):
    """One suppressed address as ``outreach suppressions list`` shows it."""

    @property
    def erased(self) -> bool:
        """An erasure's keyed hash, not an address: it is never lifted."""
        return is_token(self.email)


@dataclass(frozen=True)
class SuppressionChange:
    """What one add or lift did: whether the list changed, the enrollments put back (lift) or
    the letters cancelled (add), and notes on what was left alone."""

    email: str
    changed: bool
    restored: tuple[Restoration, ...] = ()
    cancelled: int = 0
    notes: tuple[str, ...] = ()


def suppression_items(
    engine_or_session: Engine | Session, *, email: str | None = None
) -> list[SuppressionItem]:
    """Every suppressed address (or only ``email``), newest first."""
    with within(engine_or_session) as session:
        return [_item(row) for row in list_suppressions(session, email=email)]


def add_suppression(
    engine_or_session: Engine | Session, *, email: str, reason: str, actor: str, now: datetime
) -> SuppressionChange:
    """Suppress ``email`` for ``reason`` (:class:`SuppressionError` for a bad address or an
    empty reason) and cancel the contact's unsent letters. Adding an address already
    suppressed changes nothing."""
    address = _address(email)
    why = _reason(reason)
    with within(engine_or_session) as session:
        entry = SuppressionEntry(address, OPERATOR_REASON, why, None, actor)
        if not suppress(session, **entry._asdict(), now=now):
            return SuppressionChange(address, False, notes=("already suppressed",))
        [row] = list_suppressions(session, email=address)
        _record(session, row, action="suppressed", reason=why, actor=actor, now=now)
        cancelled = 0
        if row.contact_id is not None:
            cancelled = cancel_unsent(
                session,
                row.contact_id,
                reason=f"suppressed by {actor}: {why}",
                actor=actor,
                now=now,
            )
    return SuppressionChange(address, True, cancelled=cancelled)


def lift_suppression(
    engine_or_session: Engine | Session, *, email: str, reason: str, actor: str, now: datetime
) -> SuppressionChange:
    """Lift the suppression of ``email`` for ``reason`` and put the contact's bounced or
    unsubscribed enrollments back to what they were. Lifting an address that is not
    suppressed changes nothing; an erasure's keyed hash is refused (:class:`SuppressionError`)."""
    why = _reason(reason)
    address = email.strip().lower()
    if is_token(address):
        raise SuppressionError(
            f"{address[:24]}… is what an erasure left: it cannot be lifted (it keeps the erased "
            "person from being imported or written to again); nothing changed"
        )
    with within(engine_or_session) as session:
        rows = list_suppressions(session, email=address)
        if not rows:
            address = _address(email)
            rows = list_suppressions(session, email=address)
        if not rows:
            return SuppressionChange(address, False, notes=("was not suppressed",))
        restored, notes = lift_rows(
            session, rows, undoes=suppressing_move, reason=why, actor=actor, now=now
        )
    return SuppressionChange(address, True, restored=tuple(restored), notes=tuple(notes))


def lift_rows(
    session: Session,
    rows: Sequence[SuppressionRow],
    *,
    undoes: Callable[[MoveFacts], bool] | None,
    reason: str,
    actor: str,
    now: datetime,
) -> tuple[list[Restoration], list[str]]:
    """Delete the suppressions ``rows`` (an event each) and restore the enrollment moves of
    their contacts that ``undoes`` selects (none when it is ``None``). In the caller's
    transaction."""
    lifted = lift(session, emails=[row.email for row in rows])
    restored: list[Restoration] = []
    notes: list[str] = []
    for row in rows:
        if row.email not in lifted:
            continue
        _record(session, row, action="suppression_lifted", reason=reason, actor=actor, now=now)
        if row.contact_id is not None and undoes is not None:
            done, left = restore_enrollments(
                session, row.contact_id, undoes=undoes, reason=reason, actor=actor, now=now
            )
            restored += done
            notes += left
    return restored, notes


def restore_enrollments(
    session: Session,
    contact_id: int,
    *,
    undoes: Callable[[MoveFacts], bool],
    reason: str,
    actor: str,
    now: datetime,
    data: dict[str, object] | None = None,
) -> tuple[list[Restoration], list[str]]:
    """Put the contact's enrollments that ``undoes`` selects back to their state before that
    move (:func:`~outreach.replies.undo.restorations`), each through
    :mod:`outreach.lifecycle` with its event."""
    enrollments = {e.id: e for e in enrollments_of_contacts(session, contact_ids=[contact_id])}
    current = {eid: e.status for eid, e in enrollments.items() if eid is not None}
    moves = enrollment_moves(session, contact_id=contact_id)
    todo, notes = restorations(moves, current, undoes=undoes)
    for item in todo:
        set_enrollment_status(
            session,
            enrollments[item.enrollment_id],
            item.restore_to,
            now=now,
            actor=actor,
            reason=reason,
            data={"undo": True, **(data or {})},
        )
    return todo, notes


def cancel_unsent(
    session: Session,
    contact_id: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
    data: dict[str, object] | None = None,
) -> int:
    """Cancel every unsent letter to the contact in every campaign (an event each, with
    ``data``); how many. Used by an operator's suppression and a one-click unsubscribe."""
    unsent = unsent_letters_of_contacts(session, contact_ids=[contact_id])
    groups = cancellations([Cancellation(contact_id, None, reason)], unsent)
    return cancel_groups(session, groups, now=now, actor=actor, data=data)


def _record(
    session: Session, row: SuppressionRow, *, action: str, reason: str, actor: str, now: datetime
) -> None:
    record_event(
        session,
        now=now,
        actor=actor,
        entity="suppression",
        entity_id=row.contact_id or 0,
        action=action,
        reason=reason,
        data={
            "email": row.email,
            "reason": row.reason,
            "detail": row.detail,
            "inbound_id": row.inbound_id,
        },
    )


def _address(email: str) -> str:
    try:
        return normalise_email(email)
    except ValueError as exc:
        raise SuppressionError(f"email: {exc}") from None


def _reason(reason: str) -> str:
    why = " ".join((reason or "").split())
    if not why:
        raise SuppressionError("--reason: say why (it is recorded with the change)")
    return why[:2000]


def _item(row: SuppressionRow) -> SuppressionItem:
    return same_named(SuppressionItem, row)
