"""An operator corrects a reply's class: the old class's effects undone, the new one's applied.

``outreach replies reclassify ID CLASS --reason TEXT`` (and the web console) call
:func:`reclassify`. In one transaction:

1. the suppressions the message's effects put in place are lifted, and the enrollments they
   moved (``replied``, ``bounced``, ``unsubscribed``) go back to what they were — unless
   something moved them since (:mod:`~outreach.replies.undo`); letters they cancelled stay
   cancelled (a cancelled letter is final; the next plan plans the contact's later steps);
2. the row gets the new class, the operator's evidence and reason, and loses its review flag;
3. the new class's effects are applied exactly as the intake would (DESIGN.md rule 4);

each change with its event row (the message's own: ``reclassified``, from the old class to the
new). Setting the class a message already has only confirms it (clears the review flag, writes
a ``reviewed`` event); doing that twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.db import Engine, Session, within
from outreach.errors import ConcurrentUpdate, NotFoundError, ReclassifyError
from outreach.lifecycle import record_event
from outreach.models import Inbound
from outreach.operations.suppressions import lift_rows, restore_enrollments
from outreach.replies.apply_effects import Applied, apply_outcomes
from outreach.replies.effects import ReplyOutcome
from outreach.replies.evidence import operator_evidence
from outreach.replies.parse import parse_inbound
from outreach.replies.result import ClassificationResult
from outreach.replies.undo import Restoration, made_by_inbound
from outreach.repository.inbound import get_inbound, set_classification
from outreach.repository.suppressions import suppressions_of_inbound
from outreach.states import Classification

#: What a change with no effects applied.
NOTHING_APPLIED = Applied()
#: Classes an operator may set (``oversize`` is a fact about the bytes, not a judgement).
SETTABLE = tuple(c for c in Classification if c != Classification.OVERSIZE)


@dataclass(frozen=True)
class Reclassified:
    """What :func:`reclassify` did: the classes, whether anything changed, the suppressions
    lifted, the enrollments put back, what the new class applied, and notes on what was left
    alone."""

    inbound_id: int
    old_class: str
    new_class: str
    changed: bool
    lifted: tuple[str, ...] = ()
    restored: tuple[Restoration, ...] = ()
    applied: Applied = NOTHING_APPLIED
    notes: tuple[str, ...] = ()


def settable_class(value: str) -> Classification:
    """``value`` as a class an operator may set, or :class:`ReclassifyError` naming the
    choices."""
    name = (value or "").strip().lower()
    for kind in SETTABLE:
        if kind.value == name:
            return kind
    choices = ", ".join(kind.value for kind in SETTABLE)
    raise ReclassifyError(f"CLASS: {value!r} is not a class an operator can set ({choices})")


def reclassify(
    engine_or_session: Engine | Session,
    *,
    inbound_id: int,
    new_class: Classification | str,
    reason: str,
    actor: str,
    now: datetime,
) -> Reclassified:
    """Give inbound message ``inbound_id`` the class ``new_class`` for ``reason`` (see the
    module docstring). Raises :class:`NotFoundError` for an unknown id,
    :class:`ReclassifyError` for a class an operator cannot set or an empty reason, and
    :class:`ConcurrentUpdate` when the message was reclassified meanwhile; nothing is
    changed then."""
    new = settable_class(
        str(new_class.value if isinstance(new_class, Classification) else new_class)
    )
    why = " ".join((reason or "").split())[:2000]
    if not why:
        raise ReclassifyError("--reason: say why (it is recorded with the change)")
    with within(engine_or_session) as session:
        row = get_inbound(session, inbound_id=inbound_id)
        if row is None or row.id is None:
            raise NotFoundError(f"no inbound message {inbound_id} (see outreach replies list)")
        if row.classification == new.value:
            return _confirm(session, row, why=why, actor=actor, now=now)
        return _change(session, row, new, why=why, actor=actor, now=now)


def _confirm(
    session: Session, row: Inbound, *, why: str, actor: str, now: datetime
) -> Reclassified:
    """The class stays: a flagged message is marked reviewed (once)."""
    assert row.id is not None
    if not row.needs_review:
        return Reclassified(row.id, row.classification, row.classification, changed=False)
    _store_class(session, row, row.classification, why=why, actor=actor)
    record_event(
        session,
        now=now,
        actor=actor,
        entity="inbound",
        entity_id=row.id,
        action="reviewed",
        from_state=row.classification,
        to_state=row.classification,
        reason=why,
    )
    return Reclassified(row.id, row.classification, row.classification, changed=True)


def _change(
    session: Session, row: Inbound, new: Classification, *, why: str, actor: str, now: datetime
) -> Reclassified:
    """Undo the old class's effects, store the new class, apply its effects."""
    assert row.id is not None
    old = row.classification
    undo_reason = f"inbound {row.id} reclassified from {old} to {new.value}: {why}"
    lifted_rows = suppressions_of_inbound(session, inbound_id=row.id)
    lift_rows(session, lifted_rows, undoes=None, reason=undo_reason, actor=actor, now=now)
    restored: list[Restoration] = []
    notes: list[str] = []
    if row.contact_id is not None:
        restored, notes = restore_enrollments(
            session,
            row.contact_id,
            undoes=made_by_inbound(row.id),
            reason=undo_reason,
            actor=actor,
            now=now,
            data={"undone_inbound_id": row.id},
        )
    _store_class(session, row, new.value, why=why, actor=actor)
    record_event(
        session,
        now=now,
        actor=actor,
        entity="inbound",
        entity_id=row.id,
        action="reclassified",
        from_state=old,
        to_state=new.value,
        reason=why,
        data={"lifted": [r.email for r in lifted_rows], "restored": len(restored)},
    )
    applied = apply_outcomes(session, [_outcome(row, new, why, actor)], now=now, actor=actor)
    return Reclassified(
        row.id,
        old,
        new.value,
        changed=True,
        lifted=tuple(r.email for r in lifted_rows),
        restored=tuple(restored),
        applied=applied,
        notes=tuple(notes),
    )


def _store_class(session: Session, row: Inbound, kind: str, *, why: str, actor: str) -> None:
    """The row's class, reason and operator evidence (compare-and-set on its old class)."""
    assert row.id is not None
    evidence = operator_evidence(actor, why)
    values = {
        "classification": kind,
        "reason": f"set by {actor}: {why}"[:2000],
        "evidence": evidence.as_dict(),
        "strength": evidence.strength.value,
        "needs_review": False,
    }
    if not set_classification(
        session, inbound_id=row.id, current=row.classification, values=values
    ):
        raise ConcurrentUpdate(f"inbound message {row.id} was reclassified meanwhile; try again")


def _outcome(row: Inbound, new: Classification, why: str, actor: str) -> ReplyOutcome:
    """The row with its new class, as the effects table reads it. A hard bounce that matched
    no contact names its address in the raw bounce (read again)."""
    assert row.id is not None
    address = None
    if new in (Classification.BOUNCE_HARD, Classification.UNSUBSCRIBE) and row.contact_id is None:
        dsn = parse_inbound(row.raw).dsn
        address = dsn.final_recipient if dsn is not None else None
    result = ClassificationResult(
        new,
        f"set by {actor}: {why}",
        bounce_status=row.bounce_status,
        bounced_address=address,
        evidence=operator_evidence(actor, why),
    )
    return ReplyOutcome(row.id, result, row.contact_id, row.campaign_id, row.from_addr)
