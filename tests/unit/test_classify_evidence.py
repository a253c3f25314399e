"""The classifier's order and evidence (outreach.replies.classify): unusable input, our own
letters, complaints, bounce shapes without a DSN part, and people who only look automatic."""

from __future__ import annotations

from outreach.replies.classify import classify
from outreach.replies.evidence import Strength
from outreach.replies.parse import parse_inbound
from outreach.states import Classification

SUBJECT = "The Convention on Cluster Munitions enters into force in 100 days"


def mail(headers: str, body: str) -> bytes:
    return (
        headers.strip("\n").replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n")
    ).encode()


def kind(raw: bytes) -> Classification:
    return classify(parse_inbound(raw)).kind


def test_garbage_is_unparseable_not_human() -> None:
    for raw in (
        bytes(range(256)) * 3,
        b"just words, no headers\r\n",
        b"Subject: hi\r\n\r\nno sender at all\r\n",
        b"",
    ):
        result = classify(parse_inbound(raw))
        assert result.kind == Classification.UNPARSEABLE, raw[:30]
        assert result.evidence.decided_by in ("From header", "parser")


def test_our_own_letter_fed_back_is_own_outbound() -> None:
    raw = mail(
        f"From: Coalition <outreach@example.org>\nTo: minister@example.net\nSubject: {SUBJECT}\n"
        "Message-ID: <a1@outreach.example.org>\nX-Outreach-Campaign: ccm-2010\nX-Outreach-Step: appeal",
        "Dear Minister,",
    )
    result = classify(parse_inbound(raw))
    assert result.kind == Classification.OWN_OUTBOUND
    assert "x-outreach-campaign" in result.reason


def test_a_bounce_quoting_our_headers_is_still_a_bounce() -> None:
    raw = mail(
        "From: MAILER-DAEMON@mx.example.org\nTo: outreach@example.org\nSubject: failure notice",
        "Hi. This is the qmail-send program at mx.example.org.\n\n<gone@example.net>:\n"
        "Sorry, no mailbox here by that name. (#5.1.1)\n\n--- Below this line is a copy of the message.\n\n"
        "X-Outreach-Campaign: ccm-2010\nMessage-ID: <a2@outreach.example.org>\n",
    )
    assert kind(raw) == Classification.BOUNCE_HARD


def test_a_bare_mailer_daemon_sender_is_a_bounce_sender() -> None:
    raw = mail(
        f"From: MAILER-DAEMON\nTo: outreach@example.org\nSubject: Re: {SUBJECT}",
        "<chef@cabinet.example.fr>: user unknown\n",
    )
    result = classify(parse_inbound(raw))
    assert (result.kind, result.bounced_address) == (
        Classification.BOUNCE_HARD,
        "chef@cabinet.example.fr",
    )


def test_people_who_only_look_automatic_stay_human() -> None:
    quoted = mail(
        f"From: Aide <aide@mfa.example.net>\nSubject: Re: Undeliverable: {SUBJECT}\n"
        "In-Reply-To: <a3@outreach.example.org>",
        "Please use press@mfa.example.org instead.\n\n> Delivery has failed to these recipients or groups:\n"
        "> old@mfa.example.net\n> #550 5.1.1 RESOLVER.ADR.RecipNotFound; not found ##\n",
    )
    assert kind(quoted) == Classification.HUMAN
    postmaster = mail(
        f"From: Postmaster <postmaster@mfa.example.net>\nSubject: Re: {SUBJECT}\n"
        "In-Reply-To: <a4@outreach.example.org>",
        "The Minister's office has a new address: cabinet@mfa.example.net.",
    )
    assert kind(postmaster) == Classification.HUMAN


def test_a_feedback_report_unsubscribes_the_complainer() -> None:
    raw = mail(
        "From: fbl@isp.example.net\nTo: abuse@example.org\nSubject: Complaint\nMIME-Version: 1.0\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b"',
        "--b\nContent-Type: text/plain\n\nabuse report\n--b\nContent-Type: message/feedback-report\n\n"
        "Feedback-Type: abuse\n\n--b\nContent-Type: message/rfc822\n\n"
        "From: outreach@example.org\nTo: Complainer <complainer@isp.example.net>\n"
        "Message-ID: <a5@outreach.example.org>\n\nDear Sir,\n--b--\n",
    )
    result = classify(parse_inbound(raw))
    assert (result.kind, result.bounced_address) == (
        Classification.UNSUBSCRIBE,
        "complainer@isp.example.net",
    )


def test_every_result_says_what_decided_it_and_how_strongly() -> None:
    header = mail(
        f"From: a@example.net\nSubject: Re: {SUBJECT}\nAuto-Submitted: auto-replied", "Away."
    )
    evidence = classify(parse_inbound(header)).evidence
    assert (evidence.decided_by, evidence.strength) == (
        "Auto-Submitted header",
        Strength.CONCLUSIVE,
    )
    subject = mail("From: a@example.net\nSubject: Out of office", "Away.")
    evidence = classify(parse_inbound(subject)).evidence
    assert (evidence.decided_by, evidence.strength) == ("subject", Strength.INCONCLUSIVE)
    human = classify(parse_inbound(mail(f"From: a@example.net\nSubject: Re: {SUBJECT}", "Yes.")))
    assert human.kind == Classification.HUMAN and not human.needs_review
    assert human.evidence.as_dict()["strength"] == "inconclusive"
