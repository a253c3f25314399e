"""Which letters a correction looks at again (outreach.replies.undo.cancelled_by): those whose
latest change is still their cancellation by that reply's effect."""

from __future__ import annotations

from typing import Any, NamedTuple

from outreach.replies.undo import cancelled_by


class Latest(NamedTuple):
    message_id: int
    to_state: str | None
    data: dict[str, Any]
    from_state: str | None = "approved"


def test_only_letters_that_reply_cancelled_and_nothing_changed_since() -> None:
    latest = [
        Latest(1, "cancelled", {"by": "reply intake", "inbound_id": 7}),
        Latest(2, "cancelled", {"by": "reply intake", "inbound_id": 8}),  # another reply's
        Latest(3, "cancelled", {}),  # an operator's cancel, a reload's
        Latest(4, "pending_review", {"undone_inbound_id": 7}),  # already planned again
        Latest(5, "cancelled", {"inbound_id": 7}),
        Latest(6, "sent", {"inbound_id": 7}),
    ]
    assert cancelled_by(latest, 7) == {1: "approved", 5: "approved"}
    assert cancelled_by(latest, 8) == {2: "approved"}
    assert cancelled_by(latest, 9) == {}


def test_cancellations_recorded_before_the_cause_was_are_nobody_s() -> None:
    """Older cancellation events say ``by: reply intake`` without the reply: left alone."""
    assert cancelled_by([Latest(1, "cancelled", {"by": "reply intake"})], 7) == {}


def test_a_letter_another_reply_kept_cancelled_is_that_reply_s_with_its_first_state() -> None:
    """A correction that left a letter cancelled because reply 8 still stops it noted so; the
    letter is reply 8's now, and it was cancelled from where it was before, not from
    ``cancelled``."""
    note = Latest(
        1,
        "cancelled",
        {"undone_inbound_id": 7, "inbound_id": 8, "cancelled_from": "pending_review"},
        from_state="cancelled",
    )
    assert cancelled_by([note], 8) == {1: "pending_review"}
    assert cancelled_by([note], 7) == {}
