"""parse_inbound, snippet and the file sources of reply intake."""

from __future__ import annotations

import hashlib
import mailbox
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from outreach.errors import IntakeError
from outreach.replies.parse import MAX_CONTAINERS, parse_inbound
from outreach.replies.snippet import snippet, strip_quoted
from outreach.replies.sources import iter_files

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


# --- snippet ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Yes, gladly.\n\nOn Fri, Apr 23, 2010 at 9:00 AM, X <x@example.org> wrote:\n> Dear",
            "Yes, gladly.",
        ),
        ("Oui.\n\nLe 23 avr. 2010 à 09:00, X a écrit :\n> Madame", "Oui."),
        ("Sí.\n\nEl 23/04/2010 9:00, X escribió:\n> Señor", "Sí."),
        ("Ja.\n\nAm 23.04.2010 09:00, schrieb X:\n> Herr", "Ja."),
        ("Fine.\n\n-----Original Message-----\nFrom: X\nSent: Friday", "Fine."),
        ("Fine.\n\nFrom: X [mailto:x@example.org]\nSent: Friday\nTo: Y\n\nDear", "Fine."),
        ("Fine.\n\nDe : X\nEnvoyé : vendredi\nÀ : Y", "Fine."),
        ("Thanks\n\nSent from my iPhone", "Thanks"),
        ("Thanks\n-- \nJane Doe\nMinistry", "Thanks"),
        ("> quoted first\nmy answer\n> more quote", "my answer"),
        ("  lots   of\n\n  space  ", "lots of space"),
    ],
)
def test_snippet_strips_quotes_and_signatures(text: str, expected: str) -> None:
    assert snippet(text) == expected


def test_snippet_truncates_with_ellipsis() -> None:
    text = "word " * 100
    out = snippet(text, limit=40)
    assert len(out) <= 40 and out.endswith("…")
    assert snippet("short", limit=40) == "short"


def test_strip_quoted_keeps_text_above_outlook_block_only_when_block_is_real() -> None:
    assert strip_quoted("From: the ministry, good news\nregards") == (
        "From: the ministry, good news\nregards"
    )


# --- sources ---------------------------------------------------------------------------------


def test_iter_files_eml_mbox_and_maildir(tmp_path: Path) -> None:
    eml = tmp_path / "one.eml"
    eml.write_bytes(b"Message-ID: <1@example.net>\r\n\r\nbody one\r\n")
    mbox_path = tmp_path / "box.mbox"
    box = mailbox.mbox(mbox_path)
    box.add(b"Message-ID: <2@example.net>\n\nbody two\n")
    box.add(b"Message-ID: <3@example.net>\n\nbody three\n")
    box.close()
    md = mailbox.Maildir(tmp_path / "Maildir")
    md.add(b"Message-ID: <4@example.net>\n\nbody four\n")
    md.close()
    out = list(iter_files([eml, mbox_path, tmp_path / "Maildir"]))
    ids = [parse_inbound(raw).message_id for _, raw in out]
    assert ids == ["<1@example.net>", "<2@example.net>", "<3@example.net>", "<4@example.net>"]
    assert out[0][0] == str(eml)
    assert out[1][0] == f"{mbox_path}#1" and out[2][0] == f"{mbox_path}#2"
    assert out[3][0].startswith(str(tmp_path / "Maildir" / "new"))
    assert not out[1][1].startswith(b"From ")  # the mbox separator line is not part of it


def test_iter_files_rejects_bad_paths_before_yielding(tmp_path: Path) -> None:
    good = tmp_path / "ok.eml"
    good.write_bytes(b"Subject: x\r\n\r\n")
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(IntakeError, match=r"missing\.eml: no such file"):
        iter_files([good, tmp_path / "missing.eml"])
    with pytest.raises(IntakeError, match=r"notes\.txt: not an \.eml file"):
        iter_files([other])
    (tmp_path / "plain-dir").mkdir()
    with pytest.raises(IntakeError, match="plain-dir: a folder that is not a Maildir"):
        iter_files([tmp_path / "plain-dir"])


def test_iter_files_streams_a_large_mbox(tmp_path: Path) -> None:
    path = tmp_path / "big.mbox"
    with path.open("wb") as fh:
        for i in range(2000):
            fh.write(b"From sender@example.net Fri Apr 23 09:00:00 2010\n")
            fh.write(b"Message-ID: <%d@example.net>\n\nbody %d\n\n" % (i, i))
    it = iter_files([path])
    first = next(it)
    assert first[0] == f"{path}#1"
    assert sum(1 for _ in it) == 1999
