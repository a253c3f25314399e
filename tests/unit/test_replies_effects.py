"""The effects table of DESIGN.md rule 4 (outreach.replies.effects), without a database."""

from __future__ import annotations

from dataclasses import dataclass

from outreach.replies.classify import ClassificationResult
from outreach.replies.effects import (
    RULES,
    Cancellation,
    EnrollmentTarget,
    ReplyOutcome,
    cancellations,
    decide_effects,
    enrollment_moves,
    promote_soft_bounces,
    soft_bounce_contacts,
)
from outreach.states import Classification, EnrollmentStatus, MessageStatus


def outcome(
    iid: int,
    kind: Classification,
    contact: int | None = 1,
    campaign: int | None = 10,
    *,
    bounced: str | None = None,
    sender: str | None = "a@example.org",
) -> ReplyOutcome:
    return ReplyOutcome(
        inbound_id=iid,
        result=ClassificationResult(kind, f"why {iid}", bounced_address=bounced),
        contact_id=contact,
        campaign_id=campaign,
        from_addr=sender,
    )


def test_only_human_bounce_hard_and_unsubscribe_have_effects() -> None:
    assert set(RULES) == {
        Classification.HUMAN,
        Classification.BOUNCE_HARD,
        Classification.UNSUBSCRIBE,
    }
    for kind in (
        Classification.AUTO_REPLY,
        Classification.BOUNCE_SOFT,
        Classification.REJECTED,
        Classification.OVERSIZE,
        Classification.UNPARSEABLE,
    ):
        assert not decide_effects([outcome(1, kind)])


def test_human_reply_stops_its_campaign_only() -> None:
    effects = decide_effects([outcome(7, Classification.HUMAN)])
    assert effects.enrollments == {
        (1, 10): EnrollmentTarget(EnrollmentStatus.REPLIED, 7, "replied")
    }
    assert effects.cancellations == (Cancellation(1, 10, "replied"),)
    assert effects.suppressions == ()


def test_human_reply_without_a_campaign_changes_nothing() -> None:
    assert not decide_effects([outcome(7, Classification.HUMAN, campaign=None)])
    assert not decide_effects([outcome(7, Classification.HUMAN, contact=None)])


def test_hard_bounce_and_unsubscribe_reach_every_campaign_and_suppress_the_contact() -> None:
    effects = decide_effects([outcome(3, Classification.BOUNCE_HARD, bounced="x@example.org")])
    assert effects.enrollments == {
        (1, None): EnrollmentTarget(EnrollmentStatus.BOUNCED, 3, "bounced")
    }
    assert effects.cancellations == (Cancellation(1, None, "bounced"),)
    [request] = effects.suppressions
    assert (request.contact_id, request.address, request.reason) == (1, None, "bounce_hard")
    assert request.detail == "inbound 3: why 3"
    unsub = decide_effects([outcome(4, Classification.UNSUBSCRIBE)])
    assert unsub.enrollments[(1, None)].status == EnrollmentStatus.UNSUBSCRIBED


def test_unmatched_hard_bounce_or_unsubscribe_suppresses_the_address_it_names() -> None:
    effects = decide_effects(
        [
            outcome(1, Classification.BOUNCE_HARD, contact=None, bounced="gone@example.org"),
            outcome(2, Classification.UNSUBSCRIBE, contact=None, sender="stop@example.org"),
            outcome(3, Classification.UNSUBSCRIBE, contact=None, sender="bad\x00@example.org"),
            outcome(4, Classification.BOUNCE_HARD, contact=None, bounced="gone@example.org"),
        ]
    )
    assert [(s.address, s.reason, s.detail) for s in effects.suppressions] == [
        ("gone@example.org", "bounce_hard", "inbound 1: why 1"),
        ("stop@example.org", "unsubscribe", "inbound 2: why 2"),
    ]
    assert not effects.enrollments and not effects.cancellations


def test_strongest_enrollment_outcome_wins_and_ties_keep_the_first() -> None:
    effects = decide_effects(
        [
            outcome(1, Classification.UNSUBSCRIBE),
            outcome(2, Classification.BOUNCE_HARD),
            outcome(3, Classification.UNSUBSCRIBE),
        ]
    )
    assert effects.enrollments[(1, None)] == EnrollmentTarget(
        EnrollmentStatus.UNSUBSCRIBED, 1, "unsubscribed"
    )
    assert len(effects.cancellations) == 3
    assert effects.contact_ids() == [1]


@dataclass
class Enr:
    id: int
    contact_id: int
    campaign_id: int
    status: str


def test_enrollment_moves_only_strengthen() -> None:
    rows = [
        Enr(1, 1, 10, "active"),
        Enr(2, 1, 11, "unsubscribed"),
        Enr(3, 2, 10, "completed"),
    ]
    wanted = {
        (1, 10): EnrollmentTarget(EnrollmentStatus.REPLIED, 5, "replied"),
        (1, None): EnrollmentTarget(EnrollmentStatus.BOUNCED, 6, "bounced"),
    }
    moves = enrollment_moves(wanted, rows)
    assert moves == {1: EnrollmentTarget(EnrollmentStatus.BOUNCED, 6, "bounced")}


@dataclass
class Letter:
    id: int
    status: str
    contact_id: int
    campaign_id: int


def test_cancellations_take_each_message_once_grouped_by_reason_and_status() -> None:
    unsent = [
        Letter(1, "approved", 1, 10),
        Letter(2, "pending_review", 1, 11),
        Letter(3, "approved", 2, 10),
    ]
    groups = cancellations(
        [Cancellation(1, 10, "replied"), Cancellation(1, None, "bounced")], unsent
    )
    assert [(g.reason, g.current, g.message_ids) for g in groups] == [
        ("replied", MessageStatus.APPROVED, (1,)),
        ("bounced", MessageStatus.PENDING_REVIEW, (2,)),
    ]


def test_third_soft_bounce_in_a_row_counts_as_hard() -> None:
    soft = ClassificationResult(
        Classification.BOUNCE_SOFT, "mailbox full", "4.2.2", "a@example.org"
    )
    human = ClassificationResult(Classification.HUMAN, "a person's reply")
    results = [soft, soft, human, soft, soft]
    contacts = [1, 2, 2, 1, None]
    assert soft_bounce_contacts(results, contacts) == {1, 2}
    history = {1: ["human", "bounce_soft"], 2: []}
    out = promote_soft_bounces(results, contacts, history)
    assert [r.kind for r in out] == [
        Classification.BOUNCE_SOFT,
        Classification.BOUNCE_SOFT,
        Classification.HUMAN,
        Classification.BOUNCE_HARD,
        Classification.BOUNCE_SOFT,
    ]
    assert out[3].reason == "third soft bounce in a row; mailbox full"
    assert (out[3].bounce_status, out[3].bounced_address) == ("4.2.2", "a@example.org")
    assert history == {1: ["human", "bounce_soft"], 2: []}  # not modified
