"""Which enrollment moves and which cancellations an operator's correction undoes. Pure.

An automatic effect moved enrollments (``replied``, ``bounced``, ``unsubscribed``) and wrote
an event for each move. Undoing it — a reclassified reply, a lifted suppression — puts each
enrollment back to the state that event moved it *from*, but only while that move is still
the enrollment's latest: an enrollment someone or something changed since is left as it is,
and said so.

A reply's effect also cancelled letters, each cancellation's event naming the reply
(``inbound_id``). Reclassifying that reply looks again at the letters whose latest event is
still that cancellation (:func:`cancelled_by`); :mod:`outreach.planner.uncancel` says which
are planned again. Letters cancelled otherwise (an operator, a reload, another reply) are not
its to undo.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from outreach.states import EnrollmentStatus, MessageStatus

#: The enrollment states a suppression goes with.
SUPPRESSED_STATES = frozenset({EnrollmentStatus.BOUNCED.value, EnrollmentStatus.UNSUBSCRIBED.value})


class ChangeFacts(Protocol):
    """What every reader here takes of a recorded change: the states it moved between and
    its data."""

    @property
    def from_state(self) -> str | None: ...
    @property
    def to_state(self) -> str | None: ...
    @property
    def data(self) -> dict[str, Any]: ...


class MoveFacts(ChangeFacts, Protocol):
    """What :func:`restorations` reads of a recorded enrollment move."""

    @property
    def event_id(self) -> int: ...
    @property
    def enrollment_id(self) -> int: ...
    @property
    def latest(self) -> bool: ...


@dataclass(frozen=True)
class Restoration:
    """Put enrollment ``enrollment_id`` back from ``current`` to ``restore_to``."""

    enrollment_id: int
    current: EnrollmentStatus
    restore_to: EnrollmentStatus


def restorations(
    moves: Iterable[MoveFacts],
    current: Mapping[int, str],
    *,
    undoes: Callable[[MoveFacts], bool],
) -> tuple[list[Restoration], list[str]]:
    """The restorations for the moves ``undoes`` selects (the last one per enrollment), and a
    note for each left alone because a later move changed that enrollment. ``current`` maps
    enrollment ids to their status now."""
    selected: dict[int, MoveFacts] = {}
    for move in moves:
        if undoes(move):
            selected[move.enrollment_id] = move
    found: dict[int, Restoration] = {}
    notes: list[str] = []
    for move in selected.values():
        now_status = current.get(move.enrollment_id)
        if now_status is None:
            continue
        if not move.latest or now_status != move.to_state:
            notes.append(
                f"enrollment {move.enrollment_id} changed since (now {now_status}); left as it is"
            )
            continue
        restore_to = _state(move.from_state)
        if restore_to.value == now_status:
            continue
        found[move.enrollment_id] = Restoration(
            move.enrollment_id, EnrollmentStatus(now_status), restore_to
        )
    return list(found.values()), notes


def made_by_inbound(inbound_id: int) -> Callable[[MoveFacts], bool]:
    """Selects the moves the effects of inbound message ``inbound_id`` made (not the moves
    that undid them)."""
    return lambda move: move.data.get("inbound_id") == inbound_id and not move.data.get("undo")


def suppressing_move(move: MoveFacts) -> bool:
    """Selects each enrollment's latest move into ``bounced`` or ``unsubscribed`` (what a
    suppression goes with)."""
    return move.latest and move.to_state in SUPPRESSED_STATES


def _state(value: str | None) -> EnrollmentStatus:
    try:
        return EnrollmentStatus(value) if value else EnrollmentStatus.ACTIVE
    except ValueError:
        return EnrollmentStatus.ACTIVE


class MessageEventFacts(ChangeFacts, Protocol):
    """What :func:`cancelled_by` reads of a message's latest recorded change."""

    @property
    def message_id(self) -> int: ...


def cancelled_by(latest: Iterable[MessageEventFacts], inbound_id: int) -> dict[int, str | None]:
    """The messages whose latest change (``latest``: one event per message) is their
    cancellation by the effect of inbound message ``inbound_id`` — or a correction's note
    that this reply's effect still keeps them cancelled — each with the state it was cancelled
    from (that note carries it as ``cancelled_from``), by id."""
    return {
        event.message_id: event.data.get("cancelled_from", event.from_state)
        for event in sorted(latest, key=lambda e: e.message_id)
        if event.to_state == MessageStatus.CANCELLED.value
        and event.data.get("inbound_id") == inbound_id
    }
