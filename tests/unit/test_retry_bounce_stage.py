"""Issue 12 in dispatch's own verdict (outreach.retry): a refusal only suppresses on conclusive
evidence — an unknown mailbox refused at RCPT, or a domain failure; never "user unknown" after
DATA, where content filters use the same words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from random import Random

from outreach.retry import decide

T0 = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)


def bounce(code: int, message: str, stage: str | None) -> bool:
    decision = decide(
        code,
        message,
        attempts=1,
        first_attempt_at=T0,
        now=T0,
        lifetime=timedelta(days=3),
        rng=Random(1),
        stage=stage,  # type: ignore[arg-type]
    )
    assert decision.outcome == "failed"
    return decision.bounce


def test_unknown_mailbox_at_rcpt_bounces() -> None:
    assert bounce(550, "5.1.1 <x@example.net>: Recipient address rejected: User unknown", "rcpt")


def test_unknown_mailbox_after_data_does_not() -> None:
    assert not bounce(550, "5.1.1 user unknown", "data")
    assert not bounce(550, "5.1.1 user unknown", None)


def test_domain_failures_bounce_at_either_stage() -> None:
    assert bounce(550, "5.1.2 bad destination system", "data")
    assert bounce(556, "5.1.10 domain does not accept mail", "rcpt")
    assert not bounce(553, "5.1.2 sender domain", "mail")
