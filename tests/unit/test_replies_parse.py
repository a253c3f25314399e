"""parse_inbound: fields, charsets, DSNs and the size and nesting guards."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime
from pathlib import Path

from outreach.replies.parse import MAX_CONTAINERS, parse_inbound

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "replies"


def load(kind: str, name: str) -> bytes:
    return (CORPUS / kind / f"{name}.eml").read_bytes()


# --- parse -----------------------------------------------------------------------------------


def test_basic_fields() -> None:
    raw = load("human", "gmail_reply")
    p = parse_inbound(raw)
    assert p.raw == raw
    assert p.raw_sha256 == hashlib.sha256(raw).hexdigest()
    assert p.size == len(raw)
    assert p.message_id == "<w2k5a1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7@mail.gmail.example.com>"
    assert p.in_reply_to == ("<20100423070000.appeal.c42@outreach.example.org>",)
    assert p.references == (
        "<20100401070000.intro.c42@outreach.example.org>",
        "<20100423070000.appeal.c42@outreach.example.org>",
    )
    assert p.from_addr == "amina.diallo@gmail.example.com"
    assert p.from_name == "Amina Diallo"
    assert p.to_addrs == ("outreach@example.org",)
    assert p.date == datetime(2010, 4, 27, 9, 3, 4, tzinfo=UTC)
    assert p.text.startswith("Hello,")
    assert p.error is None and not p.oversize and p.dsn is None


def test_encoded_words_and_latin1_body() -> None:
    p = parse_inbound(load("human", "spanish_reply_latin1"))
    assert p.from_name == "José María Núñez"
    assert p.subject == "Re: La Convención sobre Municiones en Racimo"
    assert "ratificación" in p.text


def test_eight_bit_header_is_decoded_as_utf8() -> None:
    p = parse_inbound(load("auto_reply", "ooo_de_x_autorespond"))
    assert p.subject == "Automatische Antwort: Das Übereinkommen tritt in Kraft"


def test_html_only_body_becomes_text_with_quotes_marked() -> None:
    p = parse_inbound(load("human", "html_only_reply"))
    assert "delegation will attend" in p.text
    assert "color" not in p.text  # <style> dropped
    assert "> Dear Minister" in p.text


def test_dsn_fields_from_delivery_status_and_attached_message() -> None:
    p = parse_inbound(load("bounce_hard", "postfix_user_unknown"))
    assert p.dsn is not None
    assert p.dsn.machine_readable
    assert p.dsn.action == "failed"
    assert p.dsn.status == "5.1.1"
    assert p.dsn.final_recipient == "nobody@ministry.example.net"
    assert p.dsn.original_recipient == "nobody@ministry.example.net"
    assert p.dsn.diagnostic is not None and p.dsn.diagnostic.startswith("550 5.1.1")
    assert p.dsn.remote_mta == "dns; mail.ministry.example.net"
    assert p.dsn.original_message_id == "<abc123@outreach.example.org>"
    assert p.dsn.original_headers["x-outreach-message"] == ("1234",)
    assert p.dsn.original_headers["x-outreach-campaign"] == ("ccm-2010",)


def test_dsn_original_from_text_rfc822_headers() -> None:
    p = parse_inbound(load("bounce_hard", "exim_unrouteable"))
    assert p.dsn is not None
    assert p.dsn.original_message_id == "<20100423070000.appeal.c5@outreach.example.org>"
    assert p.dsn.original_headers["x-outreach-message"] == ("55",)
    assert p.dsn.status == "5.0.0"


def test_unknown_and_lying_charsets_do_not_crash() -> None:
    raw = (
        b"From: a@example.net\r\nSubject: =?x-unknown?q?caf=E9?=\r\n"
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xe9 ok\r\n"
    )
    p = parse_inbound(raw)
    assert p.error is None
    assert "caf" in p.subject and p.text.startswith("caf")
    lying = b"Content-Type: text/plain; charset=utf-8\r\n\r\nd\xe9j\xe0 vu\r\n"
    assert parse_inbound(lying).text.strip() == "déjà vu"  # Latin-1 fallback


def test_missing_headers_and_empty_input() -> None:
    for raw in (b"", b"\r\n\r\n", b"just some text without headers"):
        p = parse_inbound(raw)
        assert p.raw == raw
        assert p.message_id is None and p.from_addr is None and p.in_reply_to == ()


def test_oversize_is_sniffed_not_parsed() -> None:
    raw = (
        b"Message-ID: <big@example.net>\r\nIn-Reply-To: <abc123@outreach.example.org>\r\n"
        b"From: Big <Big@Example.net>\r\nSubject: large\r\n\r\n" + b"x" * 5000
    )
    p = parse_inbound(raw, max_bytes=1000)
    assert p.oversize and p.error is None
    assert p.raw == raw and p.size == len(raw)
    assert p.message_id == "<big@example.net>"
    assert p.in_reply_to == ("<abc123@outreach.example.org>",)
    assert p.from_addr == "big@example.net"
    assert p.text == ""


def test_deep_nesting_is_capped_before_parsing() -> None:
    depth = 5000
    head = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    raw = b"From: a@example.net\r\nMessage-ID: <deep@example.net>\r\n" + head + b"\r\ninner\r\n"
    start = time.monotonic()
    p = parse_inbound(raw)
    assert time.monotonic() - start < 5
    assert p.error is None
    assert p.message_id == "<deep@example.net>"
    assert any(str(MAX_CONTAINERS) in d for d in p.defects)


def test_huge_address_header_is_read_by_regex_quickly() -> None:
    to = b", ".join(b"User %d <user%d@example.org>" % (i, i) for i in range(40_000))
    raw = b"From: a@example.net\r\nTo: " + to + b"\r\nSubject: hi\r\n\r\nbody\r\n"
    assert len(raw) > 1_000_000
    start = time.monotonic()
    p = parse_inbound(raw)
    assert time.monotonic() - start < 5
    assert p.error is None and p.subject == "hi"
    assert p.to_addrs[:2] == ("user0@example.org", "user1@example.org")
    assert len(p.to_addrs) == 1000
    assert p.text.strip() == "body"


def test_huge_content_type_is_cut() -> None:
    raw = (
        b"From: a@example.net\r\nContent-Type: text/plain; "
        + b"a=b; " * 40_000
        + b"charset=utf-8\r\n\r\nhello\r\n"
    )
    start = time.monotonic()
    p = parse_inbound(raw)
    assert time.monotonic() - start < 5
    assert p.text.strip() == "hello"
    assert any("Content-Type" in d for d in p.defects)


def test_many_parts_with_hostile_content_headers_stay_fast() -> None:
    part = b"--b\r\nContent-Type: text/plain; name=" + b"(x)" * 600 + b"\r\n\r\nx\r\n"
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + part * 400 + b"--b--\r\n"
    start = time.monotonic()
    p = parse_inbound(raw)
    assert time.monotonic() - start < 5
    assert p.error is None and p.text == "x"


def test_too_many_parts_leaves_the_body_unparsed() -> None:
    part = b"--b\r\nContent-Type: text/plain\r\n\r\nx\r\n"
    raw = b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + part * 5000 + b"--b--\r\n"
    p = parse_inbound(raw)
    assert p.error is None and p.text == ""
    assert any("5000 parts" in d for d in p.defects)


def test_header_values_are_single_safe_lines() -> None:
    raw = b"From: a@example.net\r\nSubject: =?utf-8?q?one=0D=0ABcc=3A_x=40example=2Enet?=\r\n\r\n"
    p = parse_inbound(raw)
    assert "\n" not in p.subject and "\r" not in p.subject
    assert p.subject.startswith("one")


def test_naive_date_is_taken_as_utc_and_bad_date_is_none() -> None:
    p = parse_inbound(b"Date: Fri, 23 Apr 2010 09:00:00 -0000\r\n\r\n")
    assert p.date == datetime(2010, 4, 23, 9, 0, tzinfo=UTC)
    assert parse_inbound(b"Date: yesterday-ish\r\n\r\n").date is None
