"""One outbound message: what it is made of (:class:`ComposeInput`), its final bytes
(:class:`ComposedMessage`) and :func:`compose`, which checks the input
(:mod:`~outreach.compose.headers`), writes the bytes (:mod:`~outreach.compose.encoding`) and
reads them back (:mod:`~outreach.compose.readback`) before returning them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import quote

from outreach.compose.attachments import (
    Attachment,
    check_attachment,
    make_attachment_part,
)
from outreach.compose.encoding import (
    LINESEP,
    Part,
    boundary_for,
    encode_address,
    encode_text,
    make_part,
    mixed_boundary_for,
    normalise_body,
)
from outreach.compose.headers import (
    MAX_HEADER_VALUE,
    check_address,
    check_extra,
    check_message_id,
    check_name,
    check_url,
    check_value,
)
from outreach.compose.readback import Structure, verify
from outreach.errors import ComposeError


@dataclass(frozen=True)
class Envelope:
    """SMTP envelope: handed to the SMTP client explicitly, never read back from headers."""

    sender: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class ComposeInput:
    """Everything one outbound message is made of (already rendered; no templates here)."""

    from_name: str
    from_email: str
    to_name: str | None
    to_email: str
    reply_to: str | None
    subject: str
    text: str
    html: str | None
    date: datetime  # aware; becomes the Date header
    message_id: str  # with angle brackets: "<id@domain>"
    list_unsubscribe_mailto: str | None  # an address; written as mailto:ADDR?subject=unsubscribe
    unsubscribe_url: str | None  # https; adds List-Unsubscribe-Post (RFC 8058 one-click)
    extra_headers: tuple[tuple[str, str], ...] = ()  # e.g. ("X-Outreach-Campaign", "ccm-2010")
    attachments: tuple[Attachment, ...] = ()  # files after the text (multipart/mixed)


@dataclass(frozen=True)
class ComposedMessage:
    """The final bytes (CRLF line endings), their SHA-256 hex digest, envelope and Message-ID."""

    raw: bytes
    sha256: str
    envelope: Envelope
    message_id: str


@dataclass(frozen=True)
class _Checked:
    """The values of a :class:`ComposeInput` once checked, as they are written."""

    from_name: str
    from_email: str
    to_name: str
    to_email: str
    reply_to: str | None
    subject: str
    message_id: str
    date: str  # the Date header value
    unsubscribe: tuple[str, ...]  # List-Unsubscribe entries, "<…>" each
    url: str | None  # the one-click unsubscribe URL
    extras: tuple[tuple[str, str], ...]
    text: bytes
    html: bytes | None
    attachments: tuple[Attachment, ...] = ()


def compose(inp: ComposeInput) -> ComposedMessage:
    """Return the final bytes of ``inp`` with CRLF line endings, or raise.

    Raises :class:`HeaderInjectionError` (naming the field) when any user-supplied header
    value carries line breaks, control characters, Unicode line separators or RFC 2047
    syntax, and :class:`ComposeError` (naming the field) for an invalid or ambiguous address,
    URL, Message-ID, naive date, empty subject, overlong value or bad extra header. Display
    names have each whitespace run made one space and are stripped; the subject and extra
    header values are stripped; everything else is written as given. Body line ends are
    normalised to CRLF; bodies are 7bit, quoted-printable or base64 (never 8bit).

    Attachments (``inp.attachments``) make the message ``multipart/mixed``: the text part (or
    the ``multipart/alternative`` of text and HTML) first, then each file as a base64
    ``attachment`` part with its name in ``Content-Type`` (``name``) and
    ``Content-Disposition`` (``filename``), RFC 2231-encoded when not plain ASCII. A bad
    name or type raises :class:`ComposeError` naming ``attachments[i]``.

    Promise: the returned bytes, parsed back by the stdlib parser, have exactly the headers
    From, To, Subject, Date, Message-ID, MIME-Version, Content-Type (+ Content-Transfer-
    Encoding for a single part), and Reply-To / List-Unsubscribe / List-Unsubscribe-Post /
    extra headers when asked for, each once, decoding to the values set here; the To address
    is the only envelope recipient; the bodies decode to the given text; each attachment part
    has exactly its three headers, reads back with its name, type and parameters and decodes
    to its bytes. Deterministic: the same input gives the same bytes (the multipart
    boundaries are fixed, or derived from the content if a body contains one). No I/O, no
    clock, no randomness.
    """
    checked = _check(inp)
    raw, structure = _assemble(_head(checked), checked)
    verify(
        raw,
        _expected_headers(checked),
        from_=(checked.from_name, checked.from_email),
        to=(checked.to_name, checked.to_email),
        reply_to=checked.reply_to,
        structure=structure,
    )
    return ComposedMessage(
        raw=raw,
        sha256=content_hash(raw),
        envelope=Envelope(sender=checked.from_email, recipients=(checked.to_email,)),
        message_id=checked.message_id,
    )


def _check(inp: ComposeInput) -> _Checked:
    """Every value of ``inp`` checked, in field order (the first problem is the one raised)."""
    from_name = check_name(inp.from_name, "from_name")
    from_email = check_address(inp.from_email, "from_email")
    to_name = check_name(inp.to_name, "to_name")
    to_email = check_address(inp.to_email, "to_email")
    reply_to = check_address(inp.reply_to, "reply_to") if inp.reply_to else None
    check_value(inp.subject, "subject")
    subject = inp.subject.strip()
    if not subject:
        raise ComposeError("subject: empty")
    if len(subject) > MAX_HEADER_VALUE:
        raise ComposeError(f"subject: longer than {MAX_HEADER_VALUE} characters")
    if len(from_name) > 200 or len(to_name) > 200:
        raise ComposeError("from_name/to_name: longer than 200 characters")
    message_id = check_message_id(inp.message_id)
    if inp.date.tzinfo is None or inp.date.utcoffset() is None:
        raise ComposeError("date: must be timezone-aware")
    date = format_datetime(inp.date)

    unsubscribe: list[str] = []
    if inp.list_unsubscribe_mailto:
        mailto = check_address(inp.list_unsubscribe_mailto, "list_unsubscribe_mailto")
        unsubscribe.append(f"<mailto:{quote(mailto, safe='@.+-_')}?subject=unsubscribe>")
    url = check_url(inp.unsubscribe_url, "unsubscribe_url") if inp.unsubscribe_url else None
    if url:
        unsubscribe.append(f"<{url}>")
    seen: set[str] = set()
    extras = tuple((name, check_extra(name, value, seen)) for name, value in inp.extra_headers)
    if not isinstance(inp.text, str) or (inp.html is not None and not isinstance(inp.html, str)):
        raise ComposeError("text/html: must be text")
    attachments = tuple(check_attachment(a, i) for i, a in enumerate(inp.attachments))
    return _Checked(
        from_name=from_name,
        from_email=from_email,
        to_name=to_name,
        to_email=to_email,
        reply_to=reply_to,
        subject=subject,
        message_id=message_id,
        date=date,
        unsubscribe=tuple(unsubscribe),
        url=url,
        extras=extras,
        text=normalise_body(inp.text),
        html=normalise_body(inp.html) if inp.html is not None else None,
        attachments=attachments,
    )


def _head(checked: _Checked) -> list[str]:
    """The header lines, From to MIME-Version (each ending in CRLF)."""
    head = [
        encode_address("From", checked.from_name, checked.from_email),
        encode_address("To", checked.to_name, checked.to_email),
    ]
    if checked.reply_to:
        head.append(encode_address("Reply-To", "", checked.reply_to))
    head.append(encode_text("Subject", checked.subject))
    head.append(f"Date: {checked.date}{LINESEP}")
    head.append(f"Message-ID: {checked.message_id}{LINESEP}")
    if checked.unsubscribe:
        head.append(f"List-Unsubscribe: {(',' + LINESEP + ' ').join(checked.unsubscribe)}{LINESEP}")
    if checked.url:
        head.append(f"List-Unsubscribe-Post: List-Unsubscribe=One-Click{LINESEP}")
    for name, value in checked.extras:
        head.append(encode_text(name, value))
    head.append(f"MIME-Version: 1.0{LINESEP}")
    return head


def _assemble(head: list[str], checked: _Checked) -> tuple[bytes, Structure]:
    """The message bytes and the structure they were written with (for the read-back)."""
    crlf = LINESEP.encode("ascii")
    entity_head, content, parts, boundary = _body_entity(checked)
    top = "".join(head).encode("ascii")
    if not checked.attachments:
        raw = top + entity_head + crlf + crlf + content
        return raw, Structure(parts, boundary)
    files = [make_attachment_part(a) for a in checked.attachments]
    mixed = mixed_boundary_for(checked.message_id, [content, *(f.head for f in files)])
    delim = b"--" + mixed.encode("ascii")
    chunks = [top, f'Content-Type: multipart/mixed; boundary="{mixed}"'.encode("ascii")]
    chunks += [crlf, crlf, delim, crlf, entity_head, crlf, crlf, content, crlf]
    for file in files:
        chunks += [delim, crlf, file.head, crlf, crlf, file.body, crlf]
    chunks += [delim, b"--", crlf]
    return b"".join(chunks), Structure(parts, boundary, mixed, tuple(files))


def _body_entity(checked: _Checked) -> tuple[bytes, bytes, list[Part], str | None]:
    """The text of the letter as one MIME entity: (its header lines, its content, its text
    parts, the multipart/alternative boundary or ``None`` for a single text/plain part)."""
    crlf = LINESEP.encode("ascii")
    if checked.html is None:
        part = make_part("plain", checked.text)
        return part.head, part.body, [part], None
    parts = [make_part("plain", checked.text), make_part("html", checked.html)]
    boundary = boundary_for(checked.message_id, parts)
    delim = b"--" + boundary.encode("ascii")
    chunks: list[bytes] = []
    for part in parts:
        # The CRLF before a delimiter belongs to the delimiter: add one so each part
        # keeps its own final line end.
        chunks += [delim, crlf, part.head, crlf, crlf, part.body, crlf]
    chunks += [delim, b"--", crlf]
    head = f'Content-Type: multipart/alternative; boundary="{boundary}"'.encode("ascii")
    return head, b"".join(chunks), parts, boundary


def _expected_headers(checked: _Checked) -> dict[str, str]:
    """Every header name (lower case) the bytes must hold, with the text it must decode to
    ("" for a structured header checked on its own: addresses, MIME)."""
    expected: dict[str, str] = {
        "from": "",
        "to": "",
        "subject": checked.subject,
        "date": checked.date,
        "message-id": checked.message_id,
        "mime-version": "1.0",
        "content-type": "",
    }
    if checked.html is None and not checked.attachments:
        expected["content-transfer-encoding"] = ""
    if checked.reply_to:
        expected["reply-to"] = ""
    if checked.unsubscribe:
        expected["list-unsubscribe"] = ", ".join(checked.unsubscribe)
    if checked.url:
        expected["list-unsubscribe-post"] = "List-Unsubscribe=One-Click"
    for name, value in checked.extras:
        expected[name.lower()] = value
    return expected


def content_hash(raw: bytes) -> str:
    """SHA-256 of ``raw`` as lowercase hex: what approval records and dispatch re-checks."""
    return hashlib.sha256(raw).hexdigest()
