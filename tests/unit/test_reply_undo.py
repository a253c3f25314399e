"""Which enrollment moves a correction undoes (outreach.replies.undo)."""

from __future__ import annotations

from typing import Any, NamedTuple

from outreach.replies.undo import made_by_inbound, restorations, suppressing_move
from outreach.states import EnrollmentStatus


class Move(NamedTuple):
    event_id: int
    enrollment_id: int
    from_state: str | None
    to_state: str | None
    data: dict[str, Any]
    latest: bool


def test_the_moves_of_one_inbound_message_go_back() -> None:
    moves = [
        Move(1, 10, "active", "replied", {"inbound_id": 7}, True),
        Move(2, 11, "active", "bounced", {"inbound_id": 8}, True),
    ]
    todo, notes = restorations(moves, {10: "replied", 11: "bounced"}, undoes=made_by_inbound(7))
    assert [(r.enrollment_id, r.current, r.restore_to) for r in todo] == [
        (10, EnrollmentStatus.REPLIED, EnrollmentStatus.ACTIVE)
    ]
    assert notes == []


def test_a_move_made_since_is_left_alone_and_said_so() -> None:
    moves = [
        Move(1, 10, "active", "replied", {"inbound_id": 7}, False),
        Move(2, 10, "replied", "bounced", {"inbound_id": 9}, True),
    ]
    todo, notes = restorations(moves, {10: "bounced"}, undoes=made_by_inbound(7))
    assert todo == []
    assert notes == ["enrollment 10 changed since (now bounced); left as it is"]


def test_undo_moves_never_count_as_the_messages_own_and_the_last_one_decides() -> None:
    moves = [
        Move(1, 10, "active", "replied", {"inbound_id": 7}, False),
        Move(2, 10, "replied", "active", {"undo": True, "undone_inbound_id": 7}, False),
        Move(3, 10, "active", "replied", {"inbound_id": 7}, True),
    ]
    todo, notes = restorations(moves, {10: "replied"}, undoes=made_by_inbound(7))
    assert [(r.enrollment_id, r.restore_to) for r in todo] == [(10, EnrollmentStatus.ACTIVE)]
    assert notes == []


def test_lifting_a_suppression_puts_back_bounced_and_unsubscribed_enrollments() -> None:
    moves = [
        Move(1, 10, "replied", "bounced", {}, True),
        Move(2, 11, "active", "unsubscribed", {"inbound_id": 3}, True),
        Move(3, 12, "active", "replied", {"inbound_id": 4}, True),
    ]
    current = {10: "bounced", 11: "unsubscribed", 12: "replied"}
    todo, _ = restorations(moves, current, undoes=suppressing_move)
    assert {(r.enrollment_id, r.restore_to) for r in todo} == {
        (10, EnrollmentStatus.REPLIED),
        (11, EnrollmentStatus.ACTIVE),
    }
