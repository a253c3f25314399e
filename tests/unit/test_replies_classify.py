"""Classification on the fixture corpus (one test per message) and the matching keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.replies.classify import classify, matching_keys
from outreach.replies.parse import parse_inbound
from outreach.states import Classification

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
FILES = sorted(CORPUS.glob("*/*.eml"))


def test_corpus_is_large_and_covers_every_kind_it_should() -> None:
    assert len(FILES) >= 32
    kinds = {f.parent.name for f in FILES}
    assert kinds == {"human", "auto_reply", "bounce_hard", "bounce_soft", "rejected", "unsubscribe"}
    assert all(kind in Classification.__members__.values() for kind in kinds)


@pytest.mark.parametrize("path", FILES, ids=[f"{f.parent.name}/{f.stem}" for f in FILES])
def test_corpus_message_is_classified_as_its_folder(path: Path) -> None:
    parsed = parse_inbound(path.read_bytes())
    assert parsed.error is None
    result = classify(parsed)
    assert result.kind == Classification(path.parent.name), result.reason
    assert result.reason


def load(kind: str, name: str):
    return parse_inbound((CORPUS / kind / f"{name}.eml").read_bytes())


def test_outlook_reply_with_only_auto_response_suppress_is_human() -> None:
    parsed = load("human", "outlook_reply")
    assert parsed.header("x-auto-response-suppress") is not None
    assert parsed.header("x-ms-exchange-inbox-rules-loop") is None
    assert classify(parsed).kind == Classification.HUMAN


def test_exchange_rules_loop_without_ooo_subject_is_auto_reply() -> None:
    parsed = load("auto_reply", "exchange_rules_loop")
    assert parsed.subject.startswith("RE:")
    result = classify(parsed)
    assert result.kind == Classification.AUTO_REPLY
    assert "Inbox-Rules-Loop" in result.reason


def test_hard_bounce_names_address_and_status() -> None:
    result = classify(load("bounce_hard", "postfix_user_unknown"))
    assert result.bounced_address == "nobody@ministry.example.net"
    assert result.bounce_status == "5.1.1"


def test_generic_exim_status_is_refined_from_diagnostic_or_text() -> None:
    result = classify(load("bounce_soft", "exim_delay_warning"))
    assert result.bounce_status == "4.3.0"  # Status: 4.0.0, Diagnostic-Code: 451 4.3.0
    assert result.bounced_address == "attache@embassy.example.org"


def test_qmail_bounce_reads_address_status_and_original_id_from_text() -> None:
    parsed = load("bounce_hard", "qmail_no_mailbox")
    assert parsed.dsn is not None and not parsed.dsn.machine_readable
    result = classify(parsed)
    assert (result.bounced_address, result.bounce_status) == (
        "old.deputy@parliament.example.net",
        "5.1.1",
    )
    assert matching_keys(parsed).message_ids == (
        "<20100423070000.appeal.c99@outreach.example.org>",
    )


def test_policy_rejection_is_not_a_hard_bounce() -> None:
    result = classify(load("rejected", "postfix_spam_5_7_1"))
    assert result.kind == Classification.REJECTED
    assert result.bounced_address == "press@ministry.example.com"


def test_mail_to_an_unsubscribe_address_is_unsubscribe() -> None:
    raw = (
        b"From: Someone <someone@example.net>\r\n"
        b"To: Unsubscribe <Unsubscribe+ccm@Example.org>\r\n"
        b"Subject: Re: The Convention\r\n\r\nThank you.\r\n"
    )
    parsed = parse_inbound(raw)
    assert classify(parsed).kind == Classification.HUMAN
    result = classify(parsed, unsubscribe_addresses=frozenset({"unsubscribe+ccm@example.org"}))
    assert result.kind == Classification.UNSUBSCRIBE
    assert "unsubscribe+ccm@example.org" in result.reason


def test_bounce_wins_over_auto_submitted() -> None:
    parsed = load("bounce_hard", "postfix_user_unknown")
    assert parsed.header("auto-submitted") == "auto-replied"
    assert classify(parsed).kind == Classification.BOUNCE_HARD


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        (b"Auto-Submitted: no\r\n", Classification.HUMAN),
        (b"Auto-Submitted: auto-generated\r\n", Classification.AUTO_REPLY),
        (b"Precedence: bulk\r\n", Classification.AUTO_REPLY),
        (b"Precedence: list\r\n", Classification.HUMAN),
        (b"X-Auto-Response-Suppress: All\r\n", Classification.HUMAN),
        (
            b"X-Auto-Response-Suppress: All\r\nX-MS-Exchange-Inbox-Rules-Loop: a@example.net\r\n",
            Classification.AUTO_REPLY,
        ),
        (
            b"Content-Type: multipart/report; report-type=feedback-report\r\n",
            Classification.UNSUBSCRIBE,
        ),
    ],
)
def test_header_rules(headers: bytes, expected: Classification) -> None:
    raw = b"From: a@example.net\r\nSubject: Re: The Convention\r\n" + headers + b"\r\nYes.\r\n"
    assert classify(parse_inbound(raw)).kind == expected


def test_oversize_and_unparseable() -> None:
    big = parse_inbound(b"Subject: x\r\n\r\n" + b"a" * 2000, max_bytes=1000)
    assert classify(big).kind == Classification.OVERSIZE
    bad = parse_inbound(object())  # type: ignore[arg-type]
    assert classify(bad).kind == Classification.UNPARSEABLE


def test_matching_keys_priority_order() -> None:
    raw = (
        b"From: Amina <Amina@Example.NET>\r\n"
        b"In-Reply-To: <c@outreach.example.org>\r\n"
        b"References: <a@outreach.example.org> <b@outreach.example.org>\r\n"
        b"\t<c@outreach.example.org>\r\n\r\nHello\r\n"
    )
    keys = matching_keys(parse_inbound(raw))
    assert keys.message_ids == (
        "<c@outreach.example.org>",
        "<b@outreach.example.org>",
        "<a@outreach.example.org>",
    )
    assert keys.recipient_addresses == ()
    assert keys.sender == "amina@example.net"


def test_matching_keys_of_a_dsn() -> None:
    keys = matching_keys(load("bounce_hard", "postfix_user_unknown"))
    assert keys.message_ids == ("<abc123@outreach.example.org>",)
    assert keys.recipient_addresses == ("nobody@ministry.example.net",)
    assert keys.sender == "mailer-daemon@mx.example.org"
