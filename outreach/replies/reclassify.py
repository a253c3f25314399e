"""An operator corrects a reply's class: the old class's effects undone, the new one's applied.

``outreach replies reclassify ID CLASS --reason TEXT`` (and the web console) call
:func:`reclassify`. In one transaction:

1. the suppressions the message's effects put in place are lifted, and the enrollments they
   moved (``replied``, ``bounced``, ``unsubscribed``) go back to what they were — unless
   something moved them since (:mod:`~outreach.replies.undo`);
2. the row gets the new class, the operator's evidence and reason, and loses its review flag;
3. the new class's effects are applied exactly as the intake would (DESIGN.md rule 4) — and,
   when step 1 undid anything, so are those of the contact's replies stored after this one
   (a second hard bounce, an unsubscribe, a reply): their effects found this one's in place
   and changed nothing then, so they are still in force now;
4. the letters this message's effects cancelled (each cancellation's event names it) are
   looked at again: those that never left and that nothing else now stops (another
   suppression, an enrollment no longer active, a removed step, a date passed —
   :mod:`outreach.planner.uncancel`) are planned again, back in review, rendered for the
   moment they now leave (:mod:`outreach.planner.reinstate`); the others stay cancelled,
   and :attr:`Reclassified.letters` says why;

each change with its event row (the message's own: ``reclassified``, from the old class to the
new). Setting the class a message already has only confirms it (clears the review flag, writes
a ``reviewed`` event); doing that twice changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.db import Engine, Session, within
from outreach.errors import ConcurrentUpdate, NotFoundError, ReclassifyError
from outreach.lifecycle import record_event
from outreach.models import Inbound
from outreach.operations.suppressions import lift_rows, restore_enrollments
from outreach.planner.reinstate import LetterFate, replan_cancelled
from outreach.replies.apply_effects import Applied, apply_outcomes
from outreach.replies.effects import RULES, ReplyOutcome
from outreach.replies.evidence import Evidence, Strength, operator_evidence
from outreach.replies.parse import parse_inbound
from outreach.replies.result import ClassificationResult
from outreach.replies.undo import Restoration, cancelled_by, made_by_inbound
from outreach.repository.events import latest_message_events
from outreach.repository.inbound import get_inbound, later_inbound_of_contact, set_classification
from outreach.repository.planning import cancelled_messages
from outreach.repository.suppressions import suppressions_of_inbound
from outreach.settings import Settings
from outreach.states import Classification

#: What a change with no effects applied.
NOTHING_APPLIED = Applied()
#: Classes an operator may set (``oversize`` is a fact about the bytes, not a judgement).
SETTABLE = tuple(c for c in Classification if c != Classification.OVERSIZE)


@dataclass(frozen=True)
class Reclassified:
    """What :func:`reclassify` did: the classes, whether anything changed, the suppressions
    lifted, the enrollments put back, what the new class (and the later replies still in
    force, ``in_force``) applied, the letters the old class had cancelled and what became of
    each, and notes on what was left alone."""

    inbound_id: int
    old_class: str
    new_class: str
    changed: bool
    lifted: tuple[str, ...] = ()
    restored: tuple[Restoration, ...] = ()
    applied: Applied = NOTHING_APPLIED
    notes: tuple[str, ...] = ()
    in_force: tuple[int, ...] = ()
    letters: tuple[LetterFate, ...] = ()


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
    settings: Settings,
) -> Reclassified:
    """Give inbound message ``inbound_id`` the class ``new_class`` for ``reason`` (see the
    module docstring); ``settings`` say where the templates of letters planned again are.
    Raises :class:`NotFoundError` for an unknown id,
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
        return _change(session, row, new, _Acting(why, actor, now, settings))


def _confirm(
    session: Session, row: Inbound, *, why: str, actor: str, now: datetime
) -> Reclassified:
    """The class stays: a flagged message is marked reviewed (once)."""
    assert row.id is not None
    if not row.needs_review:
        return Reclassified(row.id, row.classification, row.classification, changed=False)
    _store_class(session, row, row.classification, action="reviewed", why=why, actor=actor, now=now)
    return Reclassified(row.id, row.classification, row.classification, changed=True)


@dataclass(frozen=True)
class _Acting:
    """Who changes a class, why, when, and the settings letters are rendered with."""

    why: str
    actor: str
    now: datetime
    settings: Settings


def _change(session: Session, row: Inbound, new: Classification, acting: _Acting) -> Reclassified:
    """Undo the old class's effects, store the new class, apply its effects (and those of the
    later replies still in force), then plan again the letters the old class cancelled."""
    assert row.id is not None
    old = row.classification
    why, actor, now = acting.why, acting.actor, acting.now
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
    _store_class(
        session,
        row,
        new.value,
        action="reclassified",
        why=why,
        actor=actor,
        now=now,
        data={"lifted": [r.email for r in lifted_rows], "restored": len(restored)},
    )
    in_force = _later_in_force(session, row) if (lifted_rows or restored) else []
    outcomes = [_outcome(row, new, why, actor), *(_stored_outcome(r) for r in in_force)]
    applied = apply_outcomes(session, outcomes, now=now, actor=actor)
    letters = _replan_letters(session, row, undo_reason, acting)
    return Reclassified(
        row.id,
        old,
        new.value,
        changed=True,
        lifted=tuple(r.email for r in lifted_rows),
        restored=tuple(restored),
        applied=applied,
        notes=tuple(notes),
        in_force=tuple(r.id for r in in_force if r.id is not None),
        letters=tuple(letters),
    )


def _later_in_force(session: Session, row: Inbound) -> list[Inbound]:
    """The contact's replies stored after ``row`` whose class has effects: while ``row``'s
    effects were in place theirs changed nothing, so undoing ``row``'s must not undo theirs."""
    if row.contact_id is None or row.id is None:
        return []
    kinds = [kind.value for kind in RULES]
    return later_inbound_of_contact(
        session, contact_id=row.contact_id, after_id=row.id, classifications=kinds
    )


def _replan_letters(
    session: Session, row: Inbound, cause: str, acting: _Acting
) -> list[LetterFate]:
    """The letters ``row``'s effects cancelled (still cancelled, their latest event that
    cancellation), each planned again or left cancelled with its reason."""
    if row.contact_id is None or row.id is None:
        return []
    candidates = [m.id for m in cancelled_messages(session, contact_id=row.contact_id) if m.id]
    mine = cancelled_by(latest_message_events(session, message_ids=candidates), row.id)
    if not mine:
        return []
    return replan_cancelled(
        session,
        mine,
        cause=cause,
        undone_inbound_id=row.id,
        now=acting.now,
        settings=acting.settings,
        actor=acting.actor,
    )


def _store_class(
    session: Session,
    row: Inbound,
    kind: str,
    *,
    action: str,
    why: str,
    actor: str,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> None:
    """The row's class, reason and operator evidence (compare-and-set on its old class), and
    the event ``action`` saying from which class to which."""
    assert row.id is not None
    old = row.classification
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
    record_event(
        session,
        now=now,
        actor=actor,
        entity="inbound",
        entity_id=row.id,
        action=action,
        from_state=old,
        to_state=kind,
        reason=why,
        data=data,
    )


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


def _stored_outcome(row: Inbound) -> ReplyOutcome:
    """A stored reply with the class and strength it has, as the effects table reads it."""
    assert row.id is not None
    stored = row.evidence or {}
    strength = Strength.INCONCLUSIVE if row.strength == "inconclusive" else Strength.CONCLUSIVE
    evidence = Evidence(decided_by=str(stored.get("decided_by") or "stored"), strength=strength)
    result = ClassificationResult(
        Classification(row.classification),
        row.reason or row.classification,
        bounce_status=row.bounce_status,
        evidence=evidence,
    )
    return ReplyOutcome(row.id, result, row.contact_id, row.campaign_id, row.from_addr)
