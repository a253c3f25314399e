"""The cheap first pass of parse_inbound (one plain text part, outreach.replies.plain) gives
exactly what the full MIME parse gives, and every hostile-input cap still applies to it.

Every input is parsed twice, with and without the first pass, and the two ParsedInbound must be
equal field by field: the corpus, mutated corpus messages, generated variants of the header
forms the first pass accepts or refuses (Content-Type, transfer encodings, charsets, folding,
8-bit headers, line endings, broken header blocks), and hypothesis-made messages.
"""

from __future__ import annotations

import random
from email.utils import parseaddr
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from outreach.replies.classify import classify
from outreach.replies.guards import cap_top_headers, tame_content_headers
from outreach.replies.headers import HEADER_END_RE, decode_value, name_and_address
from outreach.replies.limits import (
    MAX_ADDRESSES,
    MAX_CONTENT_HEADER_BYTES,
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    MAX_TEXT_CHARS,
)
from outreach.replies.parse import ParsedInbound, parse_inbound
from outreach.replies.plain import is_plain_text, read_head
from outreach.states import Classification
from tests.mutations import mutate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CORPUS = [p.read_bytes() for p in sorted(FIXTURES.glob("*/**/*.eml"))]


def takes_first_pass(raw: bytes) -> bool:
    """Whether parse_inbound reads ``raw`` with the first pass (the guards run first)."""
    defects: list[str] = []
    head, body, _ = cap_top_headers(raw, defects)
    return is_plain_text(read_head(tame_content_headers(head + body, defects)))


def same_both_ways(raw: bytes, *, max_bytes: int = 25 * 1024 * 1024) -> ParsedInbound:
    fast = parse_inbound(raw, max_bytes=max_bytes)
    full = parse_inbound(raw, max_bytes=max_bytes, first_pass=False)
    assert fast == full
    assert fast.text == full.text  # (compared above too; named for a readable failure)
    assert classify(fast) == classify(full)
    return fast


def test_corpus_messages_parse_the_same_both_ways() -> None:
    assert len(CORPUS) >= 200
    for raw in CORPUS:
        same_both_ways(raw)
    # the first pass is really taken, and really refused (bounces are multipart)
    plain = sum(takes_first_pass(raw) for raw in CORPUS)
    assert 30 <= plain <= len(CORPUS) - 100


def test_mutated_corpus_messages_parse_the_same_both_ways() -> None:
    rng = random.Random(13)
    for raw in CORPUS:
        for _ in range(8):
            same_both_ways(mutate(raw, rng))


_CONTENT_TYPES = [
    None,
    "text/plain",
    "text/plain; charset=utf-8",
    'text/plain; charset="ISO-8859-1"',
    "TEXT/PLAIN; CHARSET=UTF-8",
    "text/plain; format=flowed; delsp=yes; charset=utf-8",
    "text/plain;\n\tcharset=utf-8",
    'text/plain;\r\n charset="utf-8"; format=flowed',
    "text/plain;charset=utf-8;",
    "text/plain; charset=utf-8 ",
    "text/plain ; charset = utf-8",
    "text/plain; charset=x-unknown",
    "text/plain; charset=utf-16",
    "text/plain; charset=base64",
    "text/html; charset=utf-8",
    "text/enriched",
    "text/plain; charset=utf-8 (comment)",
    "text/plain; charset*=utf-8''x",
    'text/plain; charset="utf-8',
    "text/plain; name=a.txt",
    "text",
    "application/octet-stream",
    "message/rfc822",
    "multipart/mixed; boundary=b",
    "text/plain; charset==?utf-8?q?x?=",
]
_ENCODINGS = [
    None,
    "7bit",
    "8bit",
    "binary",
    "quoted-printable",
    "Quoted-Printable",
    "base64",
    "BASE64",
    "base64 ",
    "base64 (comment)",
    "x-uuencode",
    "bogus",
]
_BODIES = [
    b"Thank you, we will attend.\n\n> In 100 days the summit opens.\n",
    "Merci, la d\u00e9l\u00e9gation sera pr\u00e9sente.\n".encode(),
    "Merci, la d\u00e9l\u00e9gation.\n".encode("latin-1"),
    b"VGhhbmsgeW91IQ==\n",
    b"VGhhbmsg\neW91IQ\n==\n",
    b"!!! not base64 ===\n",
    b"caf=C3=A9 =\nsoft break\n",
    b"<p>Hello <b>there</b></p>\n",
    b"",
    b"Content-Type: text/plain; a=b; c=d; e=f; g=h; i=j; k=l; m=n\n\nquoted header\n",
    b"Delivery to the following recipient failed permanently:\n\n  x@example.org\n",
    b"--b\nContent-Type: text/plain\n\nnot a part\n--b--\n",
    b"line\rwith\rcarriage returns\r\n",
]
_FROMS = [
    "Anne Martin <anne@example.org>",
    "anne@example.org",
    '"Doe, J" <j@example.org>',
    "=?utf-8?q?J=C3=A9r=C3=B4me?= <j@example.org>",
    "MAILER-DAEMON@example.net",
    "<>",
    "undisclosed",
    "Caf\udce9 <x@example.org>",
]
_EXTRA_HEADERS = [
    b"Auto-Submitted: auto-replied\n",
    b"Content-Disposition: attachment; filename=a.txt\n",
    b"Content-Disposition: inline\n",
    b"X-Long: " + b"a" * 3000 + b"\n",
    b"X-Folded: a\n b\n\tc\n",
    b"Subject: a second subject\n",
    b"Cc: x@example.org, Y <y@example.org>\n",
    b"Content-Type: text/html\n",
    b"Content-Transfer-Encoding: base64\n",
    b"A header line without a colon\n",
    b":no name\n",
    b"From nobody Mon Jan  1 00:00:00 2024\n",
    b" a continuation first\n",
    b"X-8bit: \xc3\xa9t\xe9\n",
    b"X-Nul: a\x00b\n",
    b"Precedence: bulk\n",
    b"Received: from relay\n by mx\n",
    b"Content-Type: " + b"a=b; " * 1000 + b"\n",
]


def variants(count: int, seed: int) -> list[bytes]:
    """Messages built from the header forms above, in every line-ending style."""
    rng = random.Random(seed)
    made = []
    for i in range(count):
        lines = [
            f"From: {rng.choice(_FROMS)}\n".encode("utf-8", "surrogateescape"),
            b"To: outreach@example.org\nSubject: Re: your letter %d\n" % i,
            b"Date: Wed, 21 Apr 2010 08:00:%02d +0000\n" % (i % 60),
            b"Message-ID: <v%d@example.org>\nIn-Reply-To: <m%d@example.org>\n" % (i, i % 50),
        ]
        content_type, encoding = rng.choice(_CONTENT_TYPES), rng.choice(_ENCODINGS)
        if content_type is not None:
            lines.append(f"Content-Type: {content_type}\n".encode())
        if encoding is not None:
            lines.append(f"Content-Transfer-Encoding: {encoding}\n".encode())
        for _ in range(rng.randint(0, 3)):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(_EXTRA_HEADERS))
        raw = b"".join(lines) + b"\n" + rng.choice(_BODIES)
        style = rng.random()
        if style < 0.3:
            raw = raw.replace(b"\n", b"\r\n")
        elif style < 0.35:
            raw = raw.replace(b"\n", b"\r")
        elif style < 0.4:
            raw = raw.rstrip(b"\n")
        elif style < 0.45:
            raw = raw.replace(b"\n\n", b"\n", 1)  # no blank line after the headers
        made.append(raw)
    return made


def test_generated_header_forms_parse_the_same_both_ways() -> None:
    made = variants(3000, seed=2010)
    for raw in made:
        same_both_ways(raw)
    plain = sum(takes_first_pass(raw) for raw in made)
    assert 600 <= plain <= 2400  # both paths are exercised


def test_what_the_first_pass_refuses() -> None:
    base = b"From: a@example.org\nSubject: s\n"
    refused = [
        b"Content-Type: multipart/mixed; boundary=b\n",
        b"Content-Type: message/rfc822\n",
        b"Content-Type: text/plain; name=notes.txt\n",
        b"Content-Type: text/plain\nContent-Type: text/html\n",
        b"Content-Transfer-Encoding: x-uuencode\n",
        b"Content-Transfer-Encoding: base64\nContent-Transfer-Encoding: 7bit\n",
        b"Content-Disposition: inline\n",
    ]
    for extra in refused:
        assert not takes_first_pass(base + extra + b"\nbody\n"), extra
    accepted = [
        b"",
        b"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64\n",
    ]
    for extra in accepted:
        assert takes_first_pass(base + extra + b"\nYm9keQ==\n"), extra


_NAMES = ["From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding", "X-A", "Cc"]
_HEADER_LINE = st.tuples(
    st.sampled_from(_NAMES),
    st.one_of(
        st.sampled_from([*(c for c in _CONTENT_TYPES if c), *(e for e in _ENCODINGS if e)]),
        st.text(max_size=60),
        st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.lists(_HEADER_LINE, max_size=6),
    st.binary(max_size=300),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
)
def test_hypothesis_messages_parse_the_same_both_ways(
    headers: list[tuple[str, str]], body: bytes, eol: bytes
) -> None:
    head = b"".join(
        name.encode() + b": " + value.encode("utf-8", "surrogateescape") + eol
        for name, value in headers
    )
    same_both_ways(head + eol + body)


# --- every cap holds on the first pass ----------------------------------------------------------


def test_huge_plain_body_text_is_capped() -> None:
    raw = b"From: a@example.org\nContent-Type: text/plain\n\n" + b"word " * 300_000
    assert takes_first_pass(raw)
    p = same_both_ways(raw)
    assert len(p.text) == MAX_TEXT_CHARS


def test_huge_address_header_is_read_by_regex_on_the_first_pass() -> None:
    to = b", ".join(b"User %d <user%d@example.org>" % (i, i) for i in range(40_000))
    raw = b"From: a@example.net\r\nTo: " + to + b"\r\nSubject: hi\r\n\r\nbody\r\n"
    assert takes_first_pass(raw)
    p = same_both_ways(raw)
    assert len(p.to_addrs) == MAX_ADDRESSES and p.text.strip() == "body"
    assert any("read by regex" in d for d in p.defects)


def test_long_and_many_headers_are_cut_on_the_first_pass() -> None:
    long_subject = b"Subject: " + b"s" * (MAX_HEADER_BYTES * 2) + b"\n"
    many = b"".join(b"X-N%d: v\n" % i for i in range(MAX_HEADER_LINES + 100))
    long_type = b"Content-Type: text/plain; charset=utf-8; " + b"a=b; " * 2000 + b"\n"
    for head in (long_subject, many, long_type):
        raw = b"From: a@example.org\n" + head + b"\nhello\n"
        p = same_both_ways(raw)
        assert p.text.strip() == "hello" and p.defects
        assert len(p.subject) <= 2000
    cut = same_both_ways(b"From: a@example.org\n" + long_type + b"\nhello\n")
    assert any(f"cut to {MAX_CONTENT_HEADER_BYTES}" in d for d in cut.defects)


def test_oversize_plain_message_is_only_sniffed() -> None:
    raw = b"Message-ID: <o@example.net>\nContent-Type: text/plain\n\n" + b"z" * 10_000
    p = same_both_ways(raw, max_bytes=1_000)
    assert p.oversize and p.text == "" and p.message_id == "<o@example.net>"
    assert classify(p).kind == Classification.OVERSIZE


# --- the other shortcuts: plain From forms, short header blocks ----------------------------------


def test_plain_from_forms_read_as_the_address_parser_reads_them() -> None:
    rng = random.Random(7)

    def token(chars: str, most: int) -> str:
        return "".join(rng.choice(chars) for _ in range(rng.randint(1, most)))

    values = []
    for _ in range(20_000):
        local = ".".join(token("aZ09_+-", 4) for _ in range(rng.randint(1, 3)))
        domain = ".".join(token("aZ09-", 4) for _ in range(rng.randint(2, 4)))
        name = " ".join(token("aZ09", 5) for _ in range(rng.randint(1, 3)))
        values += [f"{local}@{domain}", f"{name} <{local}@{domain}>"]
    # near misses take the address parser
    values += ["A  B <a@b.c>", "<a@b.c>", "a@b", "a..b@c.d", "A. B <a@b.c>", '"A" <a@b.c>']
    values += [
        decode_value(v)
        for raw in CORPUS
        for v in (read_head(raw).get_all("from") or [])
        if isinstance(v, str)
    ]
    assert len(values) > 40_000
    for value in values:
        assert name_and_address(value) == parseaddr(value), value


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.binary(max_size=2100), st.sampled_from([b"\n\n", b"\r\n\r\n", b""]), st.binary(max_size=50)
)
def test_a_short_header_block_passes_the_guards_unchanged(
    head: bytes, sep: bytes, body: bytes
) -> None:
    data = head + sep + body
    defects: list[str] = []
    capped, rest, big = cap_top_headers(data, defects)
    end = HEADER_END_RE.search(data)
    block = data[: end.start()] if end else data
    if len(block) <= 2048 and not block.endswith(b"\r"):
        assert (capped + rest, defects, big) == (data, [], {})
