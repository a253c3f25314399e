"""The bounce verdict (outreach.replies.bounce_verdict): each cause of issue 12, rule by rule,
on hand-built delivery reports — no files, no parsing."""

from __future__ import annotations

from outreach.replies.bounce_verdict import judge_bounce
from outreach.replies.dsn import DsnInfo
from outreach.replies.evidence import SmtpStage, StatusSource, Strength
from outreach.replies.ses import SesNotice
from outreach.states import Classification

ADDRESS = "minister@ministry.example.net"


def report(
    status: str | None,
    diagnostic: str | None = None,
    *,
    stage: SmtpStage | None = None,
    action: str | None = "failed",
    machine_readable: bool = True,
    explanation: str = "",
    names_sender: bool = False,
    ses: SesNotice | None = None,
) -> DsnInfo:
    return DsnInfo(
        action=action,
        status=status,
        final_recipient=ADDRESS,
        diagnostic=diagnostic,
        machine_readable=machine_readable,
        stage=stage,
        explanation=explanation,
        names_sender=names_sender,
        ses=ses,
    )


def test_unknown_user_refused_at_rcpt_is_a_conclusive_hard_bounce() -> None:
    result = judge_bounce(
        report(
            "5.1.1", "550 5.1.1 <x>: Recipient address rejected: User unknown", stage=SmtpStage.RCPT
        )
    )
    assert result.kind == Classification.BOUNCE_HARD
    assert result.conclusive and not result.needs_review
    assert result.bounced_address == ADDRESS
    assert result.evidence.stage == SmtpStage.RCPT
    assert result.evidence.status_from == StatusSource.DIAGNOSTIC
    assert result.evidence.decided_by == "Diagnostic-Code"
    assert "User unknown" in result.evidence.line


def test_unknown_user_after_data_is_inconclusive_soft_and_flagged() -> None:
    result = judge_bounce(report("5.1.1", "550 5.1.1 user unknown", stage=SmtpStage.DATA))
    assert result.kind == Classification.BOUNCE_SOFT
    assert result.evidence.strength == Strength.INCONCLUSIVE
    assert result.needs_review
    assert "after DATA" in result.reason


def test_the_remotes_own_status_wins_over_the_status_field() -> None:
    result = judge_bounce(
        report("5.1.1", "550 5.7.1 Message rejected: your IP is blacklisted", stage=SmtpStage.RCPT)
    )
    assert result.kind == Classification.REJECTED
    assert result.bounce_status == "5.7.1"
    assert result.evidence.status_from == StatusSource.DIAGNOSTIC


def test_a_status_the_words_contradict_gives_way() -> None:
    blocked = judge_bounce(report("5.1.1", "550 Your message was blocked: listed on our blacklist"))
    assert blocked.kind == Classification.REJECTED
    full = judge_bounce(report("5.1.1", "550 5.1.1 <x>: Recipient address rejected: Mailbox full"))
    assert full.kind == Classification.BOUNCE_SOFT


def test_a_relay_wrapping_the_remote_reply_yields_the_remotes_status() -> None:
    wrapped = "5.1.0 - Unknown address error 550-'5.2.2 <x@example.net>: mailbox full' (delivery attempts: 0)"
    result = judge_bounce(report("5.1.0", wrapped))
    assert (result.kind, result.bounce_status) == (Classification.BOUNCE_SOFT, "5.2.2")
    wrapped = "5.1.0 - Unknown address error 550-'5.1.1 <x@example.net>... User unknown'"
    result = judge_bounce(report("5.1.0", wrapped))
    assert (result.kind, result.bounce_status) == (Classification.BOUNCE_HARD, "5.1.1")


def test_5_1_0_for_a_rejected_sender_is_a_refusal() -> None:
    diag = "550 5.1.0 <outreach@example.org>: Sender address rejected: User unknown in relay recipient table"
    result = judge_bounce(report("5.1.0", diag, stage=SmtpStage.RCPT))
    assert result.kind == Classification.REJECTED
    named = judge_bounce(
        report("5.1.0", "550 5.1.0 Address rejected outreach@example.org", names_sender=True)
    )
    assert named.kind == Classification.REJECTED


def test_5_2_1_does_not_suppress_on_its_own() -> None:
    disabled = "550 5.2.1 The email account that you tried to reach is disabled."
    for stage in (None, SmtpStage.RCPT):
        result = judge_bounce(report("5.2.1", disabled, stage=stage))
        assert result.kind == Classification.BOUNCE_SOFT and result.needs_review
    gone = judge_bounce(report("5.2.1", "550 5.2.1 <x>: user unknown", stage=SmtpStage.RCPT))
    assert gone.kind == Classification.BOUNCE_HARD


def test_5_4_4_host_or_domain_not_found_is_a_hard_failure_of_the_domain() -> None:
    diag = "Host or domain name not found. Name service error for name=x.invalid type=A: Host not found"
    result = judge_bounce(report("5.4.4", diag))
    assert result.kind == Classification.BOUNCE_HARD and result.conclusive
    later = "Host or domain name not found. Name service error for name=x.example type=MX: Host not found, try again"
    assert judge_bounce(report("5.4.4", later)).kind == Classification.BOUNCE_SOFT


def test_generic_statuses_read_the_diagnostic_text() -> None:
    unavailable = "550 5.5.0 Requested action not taken: mailbox unavailable"
    at_rcpt = judge_bounce(report("5.5.0", unavailable, stage=SmtpStage.RCPT))
    assert at_rcpt.kind == Classification.BOUNCE_HARD
    unsaid = judge_bounce(report("5.5.0", unavailable))
    assert unsaid.kind == Classification.BOUNCE_SOFT and unsaid.needs_review
    for generic in ("5.0.0", "5.3.0"):
        result = judge_bounce(report(generic, "550 No such user here", stage=SmtpStage.RCPT))
        assert result.kind == Classification.BOUNCE_HARD, generic
        policy = judge_bounce(report(generic, "550 permanent failure (x@example.net:blocked)"))
        assert policy.kind == Classification.REJECTED, generic


def test_a_no_mx_domain_and_a_null_mx_are_hard() -> None:
    for status, diag in (
        ("5.0.0", "No mx record found for domain=nomx.example.net"),
        ("5.1.10", "Domain nomail.example.net does not accept mail (nullMX)"),
        ("5.1.2", "550 5.1.2 bad destination system"),
    ):
        result = judge_bounce(report(status, diag))
        assert result.kind == Classification.BOUNCE_HARD and result.conclusive, status


def test_policy_codes_are_refusals_not_bounces_of_the_address() -> None:
    for status in ("5.7.1", "5.7.26", "5.6.0", "5.3.4", "5.1.7", "5.1.8"):
        assert judge_bounce(report(status, f"550 {status} refused")).kind == Classification.REJECTED


def test_a_plain_no_such_user_under_a_policy_code_at_rcpt_is_hard() -> None:
    result = judge_bounce(report("5.7.1", "550 5.7.1 No such user!", stage=SmtpStage.RCPT))
    assert result.kind == Classification.BOUNCE_HARD
    elsewhere = judge_bounce(report("5.7.1", "550 5.7.1 No such user!"))
    assert elsewhere.kind == Classification.REJECTED


def test_delivery_notifications_and_delays() -> None:
    delivered = judge_bounce(report("2.0.0", "250 ok", action="delivered"))
    assert delivered.kind == Classification.AUTO_REPLY
    delayed = judge_bounce(report("4.4.1", "connect timed out", action="delayed"))
    assert delayed.kind == Classification.BOUNCE_SOFT and not delayed.needs_review
    temporary = judge_bounce(report("4.2.2", "452 4.2.2 over quota"))
    assert temporary.kind == Classification.BOUNCE_SOFT


def test_bounce_text_without_a_delivery_status_part() -> None:
    text = "<old.deputy@parliament.example.net>:\nSorry, no mailbox here by that name. (#5.1.1)"
    result = judge_bounce(
        report("5.1.1", " ".join(text.split()), machine_readable=False, explanation=text)
    )
    assert result.kind == Classification.BOUNCE_HARD
    assert result.evidence.status_from == StatusSource.TEXT
    assert result.evidence.decided_by == "bounce text"
    assert "no mailbox here" in result.evidence.line


def test_unknown_cause_is_soft_without_review() -> None:
    result = judge_bounce(report("5.0.0", "550 something went wrong"))
    assert result.kind == Classification.BOUNCE_SOFT
    assert not result.needs_review


def test_ses_bounce_types() -> None:
    suppressed = SesNotice(kind="bounce", bounce_type="Permanent", bounce_subtype="Suppressed")
    result = judge_bounce(report("5.1.1", "Amazon SES has suppressed sending", ses=suppressed))
    assert result.kind == Classification.BOUNCE_SOFT and result.needs_review
    content = SesNotice(kind="bounce", bounce_type="Transient", bounce_subtype="ContentRejected")
    assert judge_bounce(report("5.7.1", "rejected", ses=content)).kind == Classification.REJECTED
    general = SesNotice(kind="bounce", bounce_type="Permanent", bounce_subtype="General")
    result = judge_bounce(report("5.1.1", "550 5.1.1 user unknown", ses=general))
    assert result.kind == Classification.BOUNCE_HARD
    assert result.evidence.status_from == StatusSource.DIAGNOSTIC
    bare = judge_bounce(report(None, None, ses=general))
    assert bare.kind == Classification.BOUNCE_SOFT and bare.needs_review
