"""Attachments in composed messages: multipart/mixed around the text, names of any script
written with RFC 2231 and read back exactly by the stdlib parser, and never a way to add a
header."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from outreach.attachments.listing import attachments_in, describe
from outreach.compose import ComposeInput, compose
from outreach.compose.attachments import Attachment, param_segments
from outreach.errors import OutreachError

BASE = {
    "from_name": "Cluster Munition Coalition",
    "from_email": "outreach@example.org",
    "to_name": "Trần Quốc Bảo",
    "to_email": "tran.quoc.bao@mofa.example.org",
    "reply_to": "outreach@example.org",
    "subject": "In 100 days, the Convention enters into force",
    "text": "Your Excellency,\n\nplease find our letter attached.\n",
    "html": "<p>Your Excellency,</p><p>please find our letter attached.</p>",
    "date": datetime(2010, 4, 23, 7, 0, tzinfo=UTC),
    "message_id": "<appeal.1@example.org>",
    "list_unsubscribe_mailto": "outreach@example.org",
    "unsubscribe_url": None,
    "extra_headers": (("X-Outreach-Campaign", "ccm-2010"),),
}
TOP_HEADERS = {
    "from",
    "to",
    "reply-to",
    "subject",
    "date",
    "message-id",
    "list-unsubscribe",
    "x-outreach-campaign",
    "mime-version",
    "content-type",
}
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:PUBLISH\r\nEND:VCALENDAR\r\n"


def _parse(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


NAMES = [
    "ccm-2010-appeal-Ministry of Foreign Affairs.pdf",
    "ccm-2010-appeal-Ministère des Affaires étrangères.pdf",
    "Thư gửi Phó Thủ tướng Trần Quốc Bảo.pdf",
    "ສົນທິສັນຍາ ວຽງຈັນ.pdf",
    "Письмо министру иностранных дел.pdf",
    "会议邀请.ics",
    "l'appel « 100 jours » ; 50% (final).pdf",
    "a" * 40 + " Affaires étrangères et de la Coopération internationale " + "é" * 30 + ".pdf",
]


@pytest.mark.parametrize("name", NAMES)
def test_names_of_any_script_survive_the_stdlib_parser(name: str) -> None:
    raw = compose(ComposeInput(**BASE, attachments=(Attachment(name, "application/pdf", PDF),))).raw
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.startswith(b"--"))
    message = _parse(raw)
    [part] = list(message.iter_attachments())
    assert part.get_filename() == name
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == PDF
    assert [a.filename for a in attachments_in(raw)] == [name]


def test_mixed_wraps_the_alternative_and_the_calendar_keeps_its_method() -> None:
    attachments = (
        Attachment("letter.pdf", "application/pdf", PDF),
        Attachment(
            "ccm-2010-first_msp.ics",
            "text/calendar",
            ICS,
            (("charset", "utf-8"), ("method", "PUBLISH")),
        ),
    )
    composed = compose(ComposeInput(**BASE, attachments=attachments))
    message = _parse(composed.raw)
    assert message.get_content_type() == "multipart/mixed"
    assert {k.lower() for k in message} == TOP_HEADERS
    first, pdf, ics = message.get_payload()
    assert first.get_content_type() == "multipart/alternative"
    assert message.get_body(("html",)).get_content().startswith("<p>Your Excellency")
    assert pdf.get_content_disposition() == "attachment"
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH" and ics.get_param("charset") == "utf-8"
    assert ics.get_payload(decode=True) == ICS
    assert [(i.filename, i.size) for i in describe(attachments_in(composed.raw))] == [
        ("letter.pdf", len(PDF)),
        ("ccm-2010-first_msp.ics", len(ICS)),
    ]
    again = compose(ComposeInput(**BASE, attachments=attachments))
    assert again.raw == composed.raw  # deterministic


def test_a_text_only_letter_with_an_attachment() -> None:
    raw = compose(
        ComposeInput(
            **{**BASE, "html": None}, attachments=(Attachment("a.pdf", "application/pdf", b""),)
        )
    ).raw
    message = _parse(raw)
    first, att = message.get_payload()
    assert first.get_content_type() == "text/plain"
    assert att.get_payload(decode=True) == b""
    assert "content-transfer-encoding" not in {k.lower() for k in message}


def test_a_body_holding_the_boundary_gets_another() -> None:
    text = "--=_outreach_mixed\nContent-Type: text/html\n\n<script>\n"
    raw = compose(
        ComposeInput(
            **{**BASE, "html": None, "text": text},
            attachments=(Attachment("a.pdf", "application/pdf", PDF),),
        )
    ).raw
    message = _parse(raw)
    assert message.get_boundary() != "=_outreach_mixed"
    assert len(message.get_payload()) == 2


@pytest.mark.parametrize(
    ("attachment", "field"),
    [
        (Attachment("a\r\nBcc: victim@example.org", "application/pdf", PDF), "filename"),
        (Attachment("=?utf-8?q?Bcc=3A_x?=.pdf", "application/pdf", PDF), "filename"),
        (Attachment("../etc/passwd", "application/pdf", PDF), "filename"),
        (Attachment("", "application/pdf", PDF), "filename"),
        (Attachment("a.pdf", "application/pdf\r\nBcc: x@example.org", PDF), "content_type"),
        (Attachment("a.pdf", "multipart/mixed", PDF), "content_type"),
        (Attachment("a.pdf", "text/calendar", ICS, (("method", "PUBLISH\r\nBcc: x"),)), "params"),
        (Attachment("a.pdf", "text/calendar", ICS, (("name", "x.pdf"),)), "params"),
    ],
)
def test_hostile_names_types_and_parameters_are_refused(attachment: Attachment, field: str) -> None:
    with pytest.raises(OutreachError, match=rf"attachments\[0\]\.{field}"):
        compose(ComposeInput(**BASE, attachments=(attachment,)))


_TYPES = st.one_of(
    st.sampled_from(["application/pdf", "text/calendar", "image/png", "text/plain"]),
    st.text(max_size=40),
)
_PARAMS = st.lists(st.tuples(st.text(max_size=12), st.text(max_size=20)), max_size=2)


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.text(min_size=0, max_size=120), min_size=1, max_size=3),
    ctype=_TYPES,
    params=_PARAMS,
)
def test_an_attachment_can_never_add_a_header(names: list[str], ctype: str, params) -> None:
    attachments = tuple(Attachment(n, ctype, PDF, tuple(params)) for n in names)
    try:
        raw = compose(ComposeInput(**BASE, attachments=attachments)).raw
    except OutreachError:
        return  # refused: nothing written
    message = _parse(raw)
    assert {k.lower() for k in message} == TOP_HEADERS
    assert (
        message.get_all("bcc") is None and message["To"].addresses[0].addr_spec == BASE["to_email"]
    )
    parts = message.get_payload()
    assert len(parts) == len(attachments) + 1
    for part, att in zip(parts[1:], attachments, strict=True):
        assert {k.lower() for k in part} == {
            "content-type",
            "content-disposition",
            "content-transfer-encoding",
        }
        assert part.get_filename() == att.filename
        assert part.get_content_type() == att.content_type.lower()
        assert part.get_payload(decode=True) == PDF


def test_parameter_segments_never_split_an_escape() -> None:
    segments = param_segments("filename", "é" * 100)
    assert len(segments) > 1
    for seg in segments:
        value = seg.split("=", 1)[1].removeprefix("utf-8''")
        assert len(value) <= 60 and "%" not in value[-2:]
