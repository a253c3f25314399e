"""A MIME boundary that the body does not use (outreach.replies.boundary, and the parser's
fallback to the raw body)."""

from __future__ import annotations

from outreach.replies.boundary import repair_boundary
from outreach.replies.classify import classify
from outreach.replies.parse import parse_inbound
from outreach.states import Classification

BODY = (
    b"preamble\r\n--REAL\r\nContent-Type: text/plain\r\n\r\n"
    b"<gone@example.net>: host mx said: 550 5.1.1 User unknown (in reply to RCPT TO command)\r\n"
    b"--REAL\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.example.org\r\n\r\n"
    b"Final-Recipient: rfc822; gone@example.net\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n--REAL--\r\n"
)
HEAD = (
    b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
    b'Content-Type: multipart/report; report-type=delivery-status; boundary="DECLARED"\r\n\r\n'
)


def test_the_bodys_own_boundary_is_used() -> None:
    repaired = repair_boundary(HEAD + BODY)
    assert repaired is not None and b'boundary="REAL"' in repaired
    parsed = parse_inbound(HEAD + BODY)
    assert parsed.dsn is not None and parsed.dsn.machine_readable
    assert any("boundary" in defect for defect in parsed.defects)
    result = classify(parsed)
    assert (result.kind, result.bounced_address) == (Classification.BOUNCE_HARD, "gone@example.net")


def test_a_body_without_any_boundary_line_is_read_as_text() -> None:
    body = BODY.replace(b"--REAL", b"==REAL")
    assert repair_boundary(HEAD + body) is None
    parsed = parse_inbound(HEAD + body)
    assert "User unknown" in parsed.text
    assert classify(parsed).kind == Classification.BOUNCE_HARD


def test_a_missing_boundary_parameter_is_added() -> None:
    head = HEAD.replace(b'; boundary="DECLARED"', b"")
    repaired = repair_boundary(head + BODY)
    assert repaired is not None and b'boundary="REAL"' in repaired
    assert repair_boundary(b"no header end at all") is None
