"""Each cancellation a reply asks for names that reply (outreach.replies.effects), so that
correcting the reply can find the letters; letters of many replies still go in one group per
reason and status (one UPDATE each, however many replies a batch holds)."""

from __future__ import annotations

from dataclasses import dataclass

from outreach.replies.classify import ClassificationResult
from outreach.replies.effects import Cancellation, ReplyOutcome, cancellations, decide_effects
from outreach.states import Classification, MessageStatus


@dataclass
class Letter:
    id: int
    status: str
    contact_id: int
    campaign_id: int


def test_one_group_per_reason_and_status_naming_each_letter_s_reply() -> None:
    replies = [
        ReplyOutcome(7, ClassificationResult(Classification.HUMAN, "thanks"), 1, 10, None),
        ReplyOutcome(8, ClassificationResult(Classification.HUMAN, "merci"), 2, 10, None),
        ReplyOutcome(9, ClassificationResult(Classification.BOUNCE_HARD, "gone"), 1, 10, None),
    ]
    effects = decide_effects(replies)
    assert [c.inbound_id for c in effects.cancellations] == [7, 8, 9]
    unsent = [
        Letter(100, "approved", 1, 10),
        Letter(101, "approved", 2, 10),
        Letter(102, "pending_review", 1, 11),
    ]
    groups = cancellations(effects.cancellations, unsent)
    assert [(g.reason, g.current, g.message_ids, dict(g.causes)) for g in groups] == [
        ("replied", MessageStatus.APPROVED, (100, 101), {100: 7, 101: 8}),
        ("bounced", MessageStatus.PENDING_REVIEW, (102,), {102: 9}),
    ]


def test_an_operator_s_cancellation_names_no_reply() -> None:
    [group] = cancellations([Cancellation(1, None, "operator")], [Letter(5, "approved", 1, 10)])
    assert (group.message_ids, dict(group.causes)) == ((5,), {})
