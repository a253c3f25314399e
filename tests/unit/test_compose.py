"""compose(): the final bytes, checked by parsing them back with the stdlib's full parser."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from outreach.compose import (
    ComposedMessage,
    ComposeInput,
    Envelope,
    compose,
    content_hash,
    make_message_id,
)
from outreach.errors import ComposeError, HeaderInjectionError

DATE = datetime(2010, 4, 23, 9, 0, tzinfo=timezone(timedelta(hours=2)))

BASE = ComposeInput(
    from_name="Cluster Munition Coalition",
    from_email="outreach@example.org",
    to_name="Jean Dupont",
    to_email="jean.dupont@example.org",
    reply_to="replies@example.org",
    subject="The Convention enters into force in 100 days",
    text="Dear Minister,\n\nThe Convention enters into force on 1 August 2010.\n",
    html="<p>Dear Minister,</p><p>The Convention enters into force on 1 August 2010.</p>",
    date=DATE,
    message_id="<abc123@example.org>",
    list_unsubscribe_mailto="replies@example.org",
    unsubscribe_url=None,
    extra_headers=(("X-Outreach-Campaign", "ccm-2010"), ("X-Outreach-Step", "appeal")),
)

BASE_HEADERS = {
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "mime-version",
    "content-type",
    "list-unsubscribe",
    "x-outreach-campaign",
    "x-outreach-step",
}


def parse(raw: bytes) -> EmailMessage:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    return msg


def shown_name(name: str | None) -> str:
    """What compose() promises for a display name: whitespace runs made one space, stripped.

    Both sides go through this: Python's phrase parser reads two spaces where a long name is
    split between two RFC 2047 words (RFC 2047 readers read one).
    """
    return " ".join((name or "").split())


def content(part: EmailMessage) -> str:
    """The decoded text of a part with the wire's CRLF line ends turned back into LF."""
    return part.get_content().replace("\r\n", "\n")


def header_names(msg: EmailMessage) -> list[str]:
    return [k.lower() for k in msg]


def test_headers_present_and_correct() -> None:
    out = compose(BASE)
    msg = parse(out.raw)
    assert sorted(header_names(msg)) == sorted(BASE_HEADERS)
    assert msg["From"].addresses[0].display_name == "Cluster Munition Coalition"
    assert msg["From"].addresses[0].addr_spec == "outreach@example.org"
    assert msg["To"].addresses[0].display_name == "Jean Dupont"
    assert msg["To"].addresses[0].addr_spec == "jean.dupont@example.org"
    assert str(msg["Reply-To"]) == "replies@example.org"
    assert str(msg["Subject"]) == BASE.subject
    assert msg["Date"].datetime == DATE
    assert str(msg["Date"]) == "Fri, 23 Apr 2010 09:00:00 +0200"
    assert str(msg["Message-ID"]) == "<abc123@example.org>"
    assert str(msg["MIME-Version"]) == "1.0"
    assert str(msg["List-Unsubscribe"]) == "<mailto:replies@example.org?subject=unsubscribe>"
    assert "List-Unsubscribe-Post" not in msg
    assert str(msg["X-Outreach-Campaign"]) == "ccm-2010"
    assert str(msg["X-Outreach-Step"]) == "appeal"


def test_result_fields_envelope_and_hash() -> None:
    out = compose(BASE)
    assert isinstance(out, ComposedMessage)
    assert out.envelope == Envelope(
        sender="outreach@example.org", recipients=("jean.dupont@example.org",)
    )
    assert out.message_id == "<abc123@example.org>"
    assert out.sha256 == hashlib.sha256(out.raw).hexdigest() == content_hash(out.raw)
    assert len(out.sha256) == 64


def test_same_input_gives_same_bytes_and_changes_show() -> None:
    assert compose(BASE).raw == compose(BASE).raw
    other = compose(replace(BASE, text=BASE.text + "P.S.\n"))
    assert other.sha256 != compose(BASE).sha256


def test_reply_to_optional() -> None:
    msg = parse(compose(replace(BASE, reply_to=None)).raw)
    assert "reply-to" not in header_names(msg)


def test_no_to_name_gives_bare_address() -> None:
    msg = parse(compose(replace(BASE, to_name=None)).raw)
    assert msg["To"].addresses[0].display_name == ""
    assert msg["To"].addresses[0].addr_spec == "jean.dupont@example.org"


@pytest.mark.parametrize(
    ("from_name", "to_name", "subject"),
    [
        (
            "Coalition contre les armes à sous-munitions",
            "Éloïse Lefèvre-Gaëtan",
            "Entrée en vigueur de la Convention : J-100 avant le 1ᵉʳ août 2010 — « urgent »",
        ),
        (
            "Liên minh chống bom chùm",
            "Nguyễn Thị Thu",
            "Công ước về bom, đạn chùm có hiệu lực sau 100 ngày nữa, kính gửi Bộ trưởng Ngoại giao",
        ),
        ('Coalition "CMC", Genève', "O'Brien, Seán (Deputy) \\ test", "Plain ASCII: a; b, c <d>"),
    ],
)
def test_non_ascii_names_and_subjects_round_trip(
    from_name: str, to_name: str, subject: str
) -> None:
    out = compose(replace(BASE, from_name=from_name, to_name=to_name, subject=subject))
    head = out.raw.split(b"\r\n\r\n", 1)[0]
    assert head.isascii()  # RFC 2047 on the wire, not raw UTF-8
    msg = parse(out.raw)
    assert msg["From"].addresses[0].display_name == from_name
    assert msg["To"].addresses[0].display_name == to_name
    assert msg["To"].addresses[0].addr_spec == "jean.dupont@example.org"
    assert str(msg["Subject"]) == subject


def test_multipart_alternative_structure() -> None:
    text = "Monsieur le Ministre,\n\nLa Convention entre en vigueur le 1 août 2010.\n"
    html = "<p>Kính gửi Bộ trưởng Nguyễn Thị Thu,</p>\n<p>… 1 août 2010</p>\n"
    msg = parse(compose(replace(BASE, text=text, html=html)).raw)
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert [p.get_content_charset() for p in parts] == ["utf-8", "utf-8"]
    assert content(parts[0]) == text
    assert content(parts[1]) == html
    assert all(p["Content-Transfer-Encoding"] != "8bit" for p in parts)
    assert not msg.defects and not any(p.defects for p in parts)


def test_text_only_is_single_text_plain() -> None:
    msg = parse(compose(replace(BASE, html=None)).raw)
    assert msg.get_content_type() == "text/plain"
    assert not msg.is_multipart()
    assert content(msg) == BASE.text
    assert "content-transfer-encoding" in header_names(msg)


def test_crlf_line_endings_only() -> None:
    raw = compose(replace(BASE, text="a\nb\r\nc\rd\n", html="<p>x</p>\n")).raw
    assert b"\n" in raw
    assert re.search(rb"(?<!\r)\n", raw) is None
    assert re.search(rb"\r(?!\n)", raw) is None
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_long_unsubscribe_url_is_written_verbatim_with_one_click() -> None:
    url = "https://example.org/unsubscribe?token=" + "k" * 120
    out = compose(replace(BASE, unsubscribe_url=url))
    assert f"<{url}>".encode() in out.raw  # never RFC 2047-encoded
    msg = parse(out.raw)
    assert str(msg["List-Unsubscribe"]) == (
        f"<mailto:replies@example.org?subject=unsubscribe>, <{url}>"
    )
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_one_click_only_with_url() -> None:
    only_url = parse(
        compose(
            replace(BASE, list_unsubscribe_mailto=None, unsubscribe_url="https://example.org/u/1")
        ).raw
    )
    assert str(only_url["List-Unsubscribe"]) == "<https://example.org/u/1>"
    assert str(only_url["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    neither = parse(compose(replace(BASE, list_unsubscribe_mailto=None)).raw)
    assert "list-unsubscribe" not in header_names(neither)
    assert "list-unsubscribe-post" not in header_names(neither)


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/u",
        "https://",
        "https://example.org/a b",
        "https://ex.org/<x>",
        "mailto:a@example.org",
    ],
)
def test_bad_unsubscribe_url_refused(url: str) -> None:
    with pytest.raises(ComposeError, match="unsubscribe_url"):
        compose(replace(BASE, unsubscribe_url=url))


def test_body_bcc_line_stays_in_body() -> None:
    text = "Hello\nBcc: evil@example.net\n\nTo: other@example.net\n"
    out = compose(replace(BASE, text=text, html=None))
    msg = parse(out.raw)
    assert "bcc" not in header_names(msg)
    assert sorted(header_names(msg)) == sorted(BASE_HEADERS | {"content-transfer-encoding"})
    assert content(msg) == text
    assert out.envelope.recipients == ("jean.dupont@example.org",)


def test_body_containing_the_boundary_keeps_two_parts() -> None:
    evil = "x\n--=_outreach_alternative\nContent-Type: text/plain\n\nBcc: y\n--=_outreach_alternative--\n"
    msg = parse(compose(replace(BASE, text=evil, html="<p>ok</p>")).raw)
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert content(parts[0]) == evil


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.org)<bob@example.org>",
        "alice@example.org, bob@example.org",
        "Alice <alice@example.org>",
        '"alice"@example.org',
        "alice@@example.org",
        "alice",
        "",
        "alice@example.org bob@example.org",
        "(comment)alice@example.org",
        "alice@[127.0.0.1]",
        "alice.@example.org",
        "al ice@example.org",
        "alice@-example.org",
        "élise@example.org",
    ],
)
def test_ambiguous_or_invalid_addresses_refused(address: str) -> None:
    with pytest.raises(ComposeError, match="to_email"):
        compose(replace(BASE, to_email=address))
    with pytest.raises(ComposeError, match="from_email"):
        compose(replace(BASE, from_email=address))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("from_name", "CMC\r\nBcc: evil@example.net"),
        ("to_name", "Jean\nBcc: evil@example.net"),
        ("to_name", "Jean =?UTF-8?Q?=0A?=Bcc: evil@example.net"),
        ("subject", "Hello\n"),
        ("subject", "Hello\u2028Bcc: evil@example.net"),
        ("subject", "Hello\x85x"),
        ("subject", "Hello\x0bx"),
        ("subject", "=?UTF-8?Q?=0ABcc=3A_evil=40example=2Enet?="),
        ("reply_to", "replies@example.org\r\nBcc: evil@example.net"),
        ("unsubscribe_url", "https://example.org/u\r\nBcc: evil@example.net"),
        ("list_unsubscribe_mailto", "replies@example.org\nBcc: evil@example.net"),
        ("to_email", "jean@example.org\nBcc: evil@example.net"),
    ],
)
def test_header_injection_refused_naming_the_field(field: str, value: str) -> None:
    with pytest.raises(HeaderInjectionError, match=field):
        compose(replace(BASE, **{field: value}))


def test_extra_header_value_injection_refused() -> None:
    with pytest.raises(HeaderInjectionError, match="X-Outreach-Step"):
        compose(replace(BASE, extra_headers=(("X-Outreach-Step", "a\r\nBcc: evil@example.net"),)))


@pytest.mark.parametrize(
    "name", ["Bcc", "To", "content-type", "Subject", "X Bad", "X-Bad:", "Resent-To", "X-Ü"]
)
def test_reserved_or_bad_extra_header_names_refused(name: str) -> None:
    with pytest.raises(ComposeError, match="extra header"):
        compose(replace(BASE, extra_headers=((name, "v"),)))


def test_duplicate_extra_header_refused() -> None:
    with pytest.raises(ComposeError, match="twice"):
        compose(replace(BASE, extra_headers=(("X-A", "1"), ("x-a", "2"))))


def test_naive_date_empty_subject_and_bad_message_id_refused() -> None:
    with pytest.raises(ComposeError, match="date"):
        compose(replace(BASE, date=datetime(2010, 4, 23, 9, 0)))
    with pytest.raises(ComposeError, match="subject"):
        compose(replace(BASE, subject="   "))
    for bad in ["abc@example.org", "<abc>", "<a b@example.org>", "<a@b@example.org>"]:
        with pytest.raises(ComposeError, match="message_id"):
            compose(replace(BASE, message_id=bad))


def test_overlong_names_refused_cleanly() -> None:
    with pytest.raises(ComposeError, match="to_name"):
        compose(replace(BASE, to_name="x" * 201))
    with pytest.raises(ComposeError, match="display name"):
        compose(replace(BASE, to_name="😀" * 200))


def test_long_non_ascii_name_uses_short_encoded_words() -> None:
    name = "Bộ Ngoại giao Cộng hòa Xã hội Chủ nghĩa Việt Nam, Vụ Các tổ chức quốc tế"
    out = compose(replace(BASE, to_name=name))
    head = out.raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert all(len(word) <= 75 for word in re.findall(r"=\?utf-8\?[bq]\?[^?]*\?=", head))
    assert all(len(line) <= 78 for line in head.split("\r\n"))
    assert shown_name(parse(out.raw)["To"].addresses[0].display_name) == name


def test_date_keeps_its_offset_and_utc_works() -> None:
    msg = parse(compose(replace(BASE, date=datetime(2010, 8, 1, 7, 0, tzinfo=UTC))).raw)
    assert msg["Date"].datetime == datetime(2010, 8, 1, 7, 0, tzinfo=UTC)


def test_make_message_id() -> None:
    a = make_message_id(domain="example.org")
    b = make_message_id(domain="example.org")
    assert a != b
    assert re.fullmatch(r"<[0-9a-f]{32}@example\.org>", a)
    assert (
        make_message_id(domain="mail.example.org", unique="msg.42") == "<msg.42@mail.example.org>"
    )
    for domain in ["", "exa mple.org", "example.org>", "a@b"]:
        with pytest.raises(ComposeError):
            make_message_id(domain=domain)
    with pytest.raises(ComposeError):
        make_message_id(domain="example.org", unique="a>b")


# --- property: nothing a contact or a template produces can add a header ---------------------

NASTY = [
    "\r",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x85",
    "\u2028",
    "\u2029",
    "\x00",
    "\t",
    "=?UTF-8?Q?=0A?=",
    "=?utf-8?b?CkJjYzogZXZpbEBleGFtcGxlLm5ldA==?=",
    "\nBcc: evil@example.net",
    "\r\nBcc: evil@example.net\r\n",
    "Bcc: evil@example.net",
    "--=_outreach_alternative",
    "\n.\n",
    " ",
    "  ",
    ":",
    ";",
    ",",
    "<",
    ">",
    '"',
    "\\",
    "@",
    "(",
    ")",
    "=?",
    "?=",
    "é",
    "ễ",
    "\u00a0",
    "\u200b",
    "evil@example.net",
]
fragments = st.one_of(st.sampled_from(NASTY), st.text(max_size=12))
nasty_text = st.lists(fragments, max_size=8).map("".join)
nasty_or_none = st.one_of(st.none(), nasty_text)


def expected_names(inp: ComposeInput) -> set[str]:
    names = {"from", "to", "subject", "date", "message-id", "mime-version", "content-type"}
    if inp.html is None:
        names.add("content-transfer-encoding")
    if inp.reply_to:
        names.add("reply-to")
    if inp.list_unsubscribe_mailto or inp.unsubscribe_url:
        names.add("list-unsubscribe")
    if inp.unsubscribe_url:
        names.add("list-unsubscribe-post")
    names |= {name.lower() for name, _ in inp.extra_headers}
    return names


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    from_name=nasty_text,
    to_name=nasty_or_none,
    subject=nasty_text,
    reply_to=nasty_or_none,
    text=nasty_text,
    html=nasty_or_none,
    step=nasty_text,
)
@example(
    from_name="CMC",
    to_name="Jean\nBcc: evil@example.net",
    subject="x",
    reply_to=None,
    text="",
    html=None,
    step="a",
)
@example(
    from_name="CMC",
    to_name="Jean",
    subject="Hi=?UTF-8?Q?=0A?=Bcc: evil@example.net",
    reply_to=None,
    text="\nBcc: x",
    html="\nBcc: y",
    step="a",
)
def test_no_field_can_add_a_header(
    from_name: str,
    to_name: str | None,
    subject: str,
    reply_to: str | None,
    text: str,
    html: str | None,
    step: str,
) -> None:
    inp = replace(
        BASE,
        from_name=from_name,
        to_name=to_name,
        subject=subject,
        reply_to=reply_to,
        text=text,
        html=html,
        extra_headers=(("X-Outreach-Step", step),),
    )
    try:
        out = compose(inp)
    except (HeaderInjectionError, ComposeError):
        return
    msg = parse(out.raw)
    names = header_names(msg)
    assert "bcc" not in names and "cc" not in names
    assert len(names) == len(set(names))
    assert set(names) == expected_names(inp)
    assert [a.addr_spec for a in msg["To"].addresses] == [BASE.to_email]
    assert out.envelope.recipients == (BASE.to_email,)
    assert shown_name(msg["From"].addresses[0].display_name) == shown_name(from_name)
    assert str(msg["Subject"]) == subject.strip()
    leaves = list(msg.iter_parts()) if html is not None else [msg]
    assert [p.get_content_type() for p in leaves] == (
        ["text/plain", "text/html"] if html is not None else ["text/plain"]
    )
    normalise = lambda s: s.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")  # noqa: E731
    assert normalise(content(leaves[0])) == normalise(text)


# Printable text with no line-breaking or control characters and no RFC 2047 syntax: a
# legitimate contact name or subject. compose() must accept it and it must read back exactly.
safe_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=60,
).filter(lambda s: "=?" not in s and s.strip())


@settings(max_examples=400, deadline=None)
@given(from_name=safe_text, to_name=safe_text, subject=safe_text, step=safe_text)
def test_legitimate_text_is_accepted_and_round_trips(
    from_name: str, to_name: str, subject: str, step: str
) -> None:
    inp = replace(
        BASE,
        from_name=from_name,
        to_name=to_name,
        subject=subject,
        extra_headers=(("X-Outreach-Step", step),),
    )
    msg = parse(compose(inp).raw)
    assert set(header_names(msg)) == expected_names(inp)
    assert shown_name(msg["From"].addresses[0].display_name) == shown_name(from_name)
    assert shown_name(msg["To"].addresses[0].display_name) == shown_name(to_name)
    assert msg["To"].addresses[0].addr_spec == BASE.to_email
    assert str(msg["Subject"]) == subject.strip()
    assert str(msg["X-Outreach-Step"]) == step.strip()


@settings(max_examples=200, deadline=None)
@given(text=st.text(), html=st.one_of(st.none(), st.text()))
def test_any_body_text_is_accepted_and_stays_body(text: str, html: str | None) -> None:
    out = compose(replace(BASE, text=text, html=html))
    msg = parse(out.raw)
    assert set(header_names(msg)) == expected_names(replace(BASE, html=html))
    leaves = list(msg.iter_parts()) if html is not None else [msg]
    bodies = [text] if html is None else [text, html]
    for leaf, body in zip(leaves, bodies, strict=True):
        want = body.replace("\r\n", "\n").replace("\r", "\n")
        assert content(leaf) == (want if want.endswith("\n") else want + "\n")


@pytest.mark.parametrize(
    ("value", "display", "addr", "ok"),
    [
        ("Ana Silva <ana@example.org>", "Ana Silva", "ana@example.org", True),
        ('"Silva, Ana" <ana@example.org>', "Silva, Ana", "ana@example.org", True),
        ("ana@example.org", "", "ana@example.org", True),
        # a second mailbox before ours, or ours not alone
        ("eve@example.net, Ana <ana@example.org>", "Ana", "ana@example.org", False),
        ("Ana <eve@example.net>, <ana@example.org>", "Ana", "ana@example.org", False),
        ("Ana <ana@example.org>, eve@example.net", "Ana", "ana@example.org", False),
        ("eve@example.net, ana@example.org", "", "ana@example.org", False),
        # a phrase that swallows or ends the address, or reads as another name
        ('"Ana <ana@example.org>', "Ana", "ana@example.org", False),
        ("(Ana <ana@example.org>", "Ana", "ana@example.org", False),
        ("Ana: <ana@example.org>", "Ana", "ana@example.org", False),
        ("Eve <ana@example.org>", "Ana", "ana@example.org", False),
        ("Ana <ana@example.org.evil.example>", "Ana", "ana@example.org", False),
        # the wanted address must itself be a plain addr-spec
        ("Ana <a,b@example.org>", "Ana", "a,b@example.org", False),
    ],
)
def test_address_header_check_compares_the_address_and_parses_the_name(
    value: str, display: str, addr: str, ok: bool
) -> None:
    from outreach.compose.readback import reads_back_as as _reads_back_as

    assert _reads_back_as("to", value, display, addr) is ok
