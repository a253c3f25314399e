"""Rule 4 and evidence (outreach.replies.effects): only conclusive hard bounces suppress; our
own letters neither count in nor break a soft-bounce series; complaints name the complainer."""

from __future__ import annotations

from outreach.replies.effects import ReplyOutcome, decide_effects, promote_soft_bounces
from outreach.replies.evidence import Evidence, Strength
from outreach.replies.result import ClassificationResult
from outreach.states import Classification

INCONCLUSIVE = Evidence("bounce text", "550 mailbox unavailable", Strength.INCONCLUSIVE)


def outcome(result: ClassificationResult, contact: int | None = 1) -> ReplyOutcome:
    return ReplyOutcome(1, result, contact, 10, "sender@example.org")


def test_an_inconclusive_hard_bounce_changes_nothing() -> None:
    weak = ClassificationResult(
        Classification.BOUNCE_HARD, "weak", bounced_address="x@example.net", evidence=INCONCLUSIVE
    )
    assert not decide_effects([outcome(weak)])
    assert not decide_effects([outcome(weak, contact=None)])
    strong = ClassificationResult(
        Classification.BOUNCE_HARD, "strong", bounced_address="x@example.net"
    )
    assert decide_effects([outcome(strong)]).suppressions


def test_a_complaint_suppresses_the_complainer_not_the_report_sender() -> None:
    complaint = ClassificationResult(
        Classification.UNSUBSCRIBE, "complaint", bounced_address="complainer@example.net"
    )
    [request] = decide_effects([outcome(complaint, contact=None)]).suppressions
    assert request.address == "complainer@example.net"
    assert request.inbound_id == 1


def test_own_letters_neither_count_in_nor_break_a_soft_series() -> None:
    soft = ClassificationResult(Classification.BOUNCE_SOFT, "soft")
    own = ClassificationResult(Classification.OWN_OUTBOUND, "ours")
    results = [soft, own, soft, own]
    out = promote_soft_bounces(results, [1, 1, 1, 1], {1: ["bounce_soft", "own_outbound"]})
    assert [r.kind for r in out] == [
        Classification.BOUNCE_SOFT,
        Classification.OWN_OUTBOUND,
        Classification.BOUNCE_HARD,
        Classification.OWN_OUTBOUND,
    ]
    assert out[2].evidence.decided_by == "soft bounce series" and out[2].conclusive
