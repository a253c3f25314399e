"""Hostile input: parse_inbound, classify, matching_keys and snippet never raise, raw is kept.

Thousands of messages: every corpus message mutated (byte flips, truncation, splices, bogus
charsets, line-ending changes), generated MIME trees and random bytes from hypothesis, and the
known stdlib traps (5000-level nesting, a 1 MB To header, lying charsets, 8-bit headers).
"""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.replies.classify import classify
from outreach.states import Classification
from tests.mutations import SEEDS, check, mutate


def test_mutated_corpus_messages_never_raise() -> None:
    rng = random.Random(20100801)
    count = 0
    start = time.monotonic()
    for seed in SEEDS:
        for _ in range(50):
            check(mutate(seed, rng))
            count += 1
    assert count >= 1500
    assert time.monotonic() - start < 30


_HEADER_NAMES = [
    "From", "To", "Cc", "Subject", "Message-ID", "In-Reply-To", "References", "Date",
    "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted", "Precedence",
    "X-Auto-Response-Suppress", "X-MS-Exchange-Inbox-Rules-Loop", "Content-Disposition",
]  # fmt: skip
_CHARSETS = ["utf-8", "iso-8859-1", "x-unknown", "utf-16", "", "us-ascii", "koi8-r", "base64"]
_TYPES = ["text/plain", "text/html", "message/rfc822", "message/delivery-status",
          "text/rfc822-headers", "application/octet-stream", "multipart/report"]  # fmt: skip
_ENCODINGS = ["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"]

header_value = st.one_of(
    st.text(max_size=200),
    st.sampled_from(["=?x-unknown?q?caf=E9?=", "=?utf-8?b?!!!?=", "<a@b> <c@d", "<>", ""]),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
)


@st.composite
def mime_trees(draw: st.DrawFn, depth: int = 0) -> bytes:
    headers = b"".join(
        name.encode() + b": " + value.encode("utf-8", "surrogateescape") + b"\r\n"
        for name, value in draw(
            st.lists(st.tuples(st.sampled_from(_HEADER_NAMES), header_value), max_size=8)
        )
    )
    if depth < 3 and draw(st.booleans()):
        boundary = draw(st.sampled_from(["b1", "b2", "", "=_x", "a" * 80]))
        sub = draw(st.sampled_from(["mixed", "alternative", "report", "related", "digest"]))
        children = draw(st.lists(mime_trees(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary.encode() + b"\r\n" + child for child in children)
        if draw(st.booleans()):
            body += b"--" + boundary.encode() + b"--\r\n"
        ctype = f'Content-Type: multipart/{sub}; boundary="{boundary}"\r\n'.encode()
        return headers + ctype + b"\r\n" + body
    ctype = draw(st.sampled_from(_TYPES))
    charset = draw(st.sampled_from(_CHARSETS))
    encoding = draw(st.sampled_from(_ENCODINGS))
    payload = draw(st.one_of(st.binary(max_size=300), st.text(max_size=300).map(str.encode)))
    return (
        headers
        + f"Content-Type: {ctype}; charset={charset}\r\n".encode()
        + f"Content-Transfer-Encoding: {encoding}\r\n\r\n".encode()
        + payload
        + b"\r\n"
    )


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(mime_trees())
def test_generated_mime_trees_never_raise(raw: bytes) -> None:
    check(raw)


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.binary(max_size=2000))
def test_random_bytes_never_raise(raw: bytes) -> None:
    check(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(SEEDS), st.integers(min_value=0, max_value=5000))
def test_every_truncation_point_is_safe(seed: bytes, cut: int) -> None:
    check(seed[: cut % (len(seed) + 1)])


def test_deep_multipart_nesting() -> None:
    levels = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i)
        for i in range(5000)
    )
    p = check(b"From: a@example.net\r\nSubject: deep\r\n" + levels + b"\r\nx\r\n")
    assert p.subject == "deep" and p.error is None


def test_deep_message_rfc822_nesting() -> None:
    raw = b"Content-Type: message/rfc822\r\n\r\n" * 5000 + b"Subject: inner\r\n\r\nx\r\n"
    check(b"From: a@example.net\r\n" + raw)


def test_deep_nesting_over_the_container_cap_is_only_sniffed_and_fast() -> None:
    levels = b"".join(
        b'Content-Type: multipart/mixed; boundary="n%d"\r\n\r\n--n%d\r\n' % (i, i)
        for i in range(5000)
    )
    start = time.monotonic()
    for _ in range(10):
        check(b"Message-ID: <d@example.net>\r\n" + levels)
    assert time.monotonic() - start < 10


def test_one_megabyte_to_header() -> None:
    to = b"To: " + b"x" * 1_048_576 + b"\r\n"
    p = check(b"From: a@example.net\r\n" + to + b"Subject: s\r\n\r\nbody\r\n")
    assert p.subject == "s"
    folded = b"To: " + b",\r\n ".join(b"<u%d@example.org>" % i for i in range(60_000)) + b"\r\n"
    assert len(folded) > 1_000_000
    p = check(b"From: a@example.net\r\n" + folded + b"\r\nbody\r\n")
    assert len(p.to_addrs) == 1000


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00" * 100,
        b"Subject: only headers\r\nFrom: a@example.net",
        b"Subject: only headers\r\n\r\n",
        b"Content-Type: text/plain; charset=x-unknown\r\n\r\n\xff\xfe\xfd",
        b"Content-Type: text/plain; charset=utf-8\r\n\r\ncaf\xe9 cr\xe8me",
        b'Content-Type: text/plain; charset=""\r\n\r\nx',
        b"Subject: caf\xc3\xa9 \xe9\xff\r\nFrom: J\xe9r\xf4me <j@example.net>\r\n\r\nx",
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64===",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
        b'Content-Type: multipart/report; report-type=delivery-status; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: message/delivery-status\r\n\r\nAction failed\r\nStatus:\r\n--x",
        b"Date: Mon, 99 Foo 99999 99:99:99 +9999\r\n\r\n",
        b"From: \r\nTo: ,,,,<<<>>>@@@\r\nReferences: <<<<>>>>\r\n\r\n",
        b"\r\n" * 1000,
        b"From: " + b"(" * 10_000 + b"\r\n\r\n",
        b"Subject: " + b"=?utf-8?q?a?= " * 5000 + b"\r\n\r\n",
    ],
)
def test_known_traps(raw: bytes) -> None:
    check(raw)


def test_oversize_keeps_raw_without_parsing() -> None:
    raw = b"Message-ID: <o@example.net>\r\n\r\n" + b"z" * 10_000
    p = check(raw, max_bytes=1_000)
    assert p.oversize and p.message_id == "<o@example.net>"
    assert classify(p).kind == Classification.OVERSIZE
