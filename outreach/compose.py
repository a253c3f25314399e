"""Compose the final RFC 5322 bytes of one outbound message.

Pure: no I/O and no clock (the Date header is the ``date`` we are given). The bytes returned by
:func:`compose` are what a reviewer reads, what approval hashes and what dispatch sends unchanged.

Every user-supplied header value is checked by :mod:`outreach.headersafe` first (this machine's
Python 3.11.7 has CVE-2024-6923, so the email package is not trusted to refuse header
injection). Then the serialised bytes are parsed back and the header set must be exactly the one
we meant to write, with the decoded values we set: anything else raises instead of returning
bytes that could add a header (a ``Bcc:``) or a recipient.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy as email_policy
from email.charset import Charset
from email.header import Header
from email.parser import BytesParser
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import quote, urlsplit

from outreach.errors import ComposeError, HeaderInjectionError
from outreach.headersafe import header_problem

__all__ = [
    "ComposeInput",
    "ComposedMessage",
    "Envelope",
    "compose",
    "content_hash",
    "make_message_id",
]


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


@dataclass(frozen=True)
class ComposedMessage:
    """The final bytes (CRLF line endings), their SHA-256 hex digest, envelope and Message-ID."""

    raw: bytes
    sha256: str
    envelope: Envelope
    message_id: str


# --- validation -----------------------------------------------------------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{_ATEXT}+(?:\.{_ATEXT}+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
#: One plain ASCII addr-spec: dot-atom local part, host-name domain. No quoted local parts, no
#: comments, no display names, no domain literals, no second address.
_ADDR_SPEC = re.compile(rf"{_DOT_ATOM}@{_DOMAIN}")
_MESSAGE_ID = re.compile(rf"<{_DOT_ATOM}@{_DOMAIN}>")
_UNIQUE = re.compile(_DOT_ATOM)
_DOMAIN_RE = re.compile(_DOMAIN)
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_URL_FORBIDDEN = re.compile(r"[\s<>,\"'\\^`{|}]")

#: The reader used to check our bytes: the stdlib's modern (policy.default) header parser, as
#: a receiving mail client would decode them; messages are split by the plain parser, which
#: is the same splitter without building header objects on every access.
_READER = email_policy.default
_LINE_BREAK = re.compile(r"\r|\n")  # what policy.default removes when it fetches a header
_RAW_PARSER = BytesParser(policy=email_policy.compat32.clone(linesep="\r\n"))

_MAX_URL = 900
_MAX_MESSAGE_ID = 250
_MAX_HEADER_VALUE = 900

#: Header names that only compose() writes; extra_headers may not use them.
_RESERVED = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "return-path",
        "received",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "dkim-signature",
    }
)


class AddressError(ComposeError):
    """An email address is invalid."""


def _check(value: str, field: str) -> None:
    if value.isprintable() and "=?" not in value:
        return  # fast path: no control, separator or format character, no encoded word
    problem = header_problem(value)
    if problem is not None:
        raise HeaderInjectionError(f"{field}: {problem}")


def _check_address(value: str, field: str) -> str:
    _check(value, field)
    if len(value) > 254 or not _ADDR_SPEC.fullmatch(value) or len(value.split("@")[0]) > 64:
        raise AddressError(f"{field}: not a single valid email address: {value!r}")
    return value


def _check_name(value: str | None, field: str) -> str:
    """A display name with each run of whitespace (NBSP and other Unicode spaces included)
    made one plain space, and stripped: readers collapse such runs anyway (even inside
    encoded words), so this is what the recipient sees, and we can verify it exactly."""
    if value is None:
        return ""
    _check(value, field)
    return " ".join(value.split())


def _check_url(value: str, field: str) -> str:
    _check(value, field)
    if len(value) > _MAX_URL or not value.isascii() or _URL_FORBIDDEN.search(value):
        raise ComposeError(f"{field}: not a usable https URL (ASCII, no spaces, <, >, or commas)")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ComposeError(f"{field}: not a valid URL: {exc}") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ComposeError(f"{field}: must be an https:// URL with a host")
    return value


def _check_message_id(value: str, field: str = "message_id") -> str:
    _check(value, field)
    if len(value) > _MAX_MESSAGE_ID or not _MESSAGE_ID.fullmatch(value):
        raise ComposeError(f"{field}: must look like <unique@domain>: {value!r}")
    return value


def _check_extra(name: str, value: str, seen: set[str]) -> str:
    field = f"extra header {name!r}"
    _check(name, "extra header name")
    if not _HEADER_NAME.fullmatch(name) or len(name) > 76:
        raise ComposeError(f"{field}: not a valid header name")
    lower = name.lower()
    if lower in _RESERVED or lower.startswith(("content-", "resent-")):
        raise ComposeError(f"{field}: reserved; compose() writes that header itself")
    if lower in seen:
        raise ComposeError(f"{field}: given twice")
    seen.add(lower)
    _check(value, field)
    value = value.strip()
    if not value or len(value) > _MAX_HEADER_VALUE:
        raise ComposeError(f"{field}: value empty or longer than {_MAX_HEADER_VALUE} characters")
    return value


# --- building -------------------------------------------------------------------------------
#
# Why the wire format is written here rather than by EmailMessage.as_bytes(): the modern
# email API costs ~12 ms per message on 3.11 (header objects re-parsed on every access and
# refolded by the generic folder) and RFC 2047-encodes a long List-Unsubscribe URL, which mail
# clients then cannot use. We write the few header shapes we need with the stdlib's own
# encoders (email.header.Header for encoded words, binascii for quoted-printable and base64,
# email.utils for the date), and then trust nothing: the stdlib parser reads the bytes back and
# every header must decode to what we meant (see _verify).

_LINESEP = "\r\n"
_MAX_LINE = 78
_PHRASE_ATOMS = re.compile(rf"{_ATEXT}+(?: {_ATEXT}+)*")
_ATOM = re.compile(rf"{_ATEXT}+")
_FOLD_POINT = re.compile(r" (?=\S)")  # fold before a space that has text after it


@lru_cache(maxsize=4096)
def _fold_ascii(name: str, value: str) -> str:
    """``Name: value`` folded before single spaces so lines stay within 78 columns when they
    can; a word longer than that stays whole (values are capped well under 998)."""
    line = f"{name}: "
    out: list[str] = []
    pos = 0
    cuts = [m.start() for m in _FOLD_POINT.finditer(value)] + [len(value)]
    for cut in cuts:  # value[pos:cut] is the next chunk; it starts with a space unless first
        if len(line) + cut - pos > _MAX_LINE and pos > 0:
            out.append(line)
            line = ""
        line += value[pos:cut]
        pos = cut
    out.append(line)
    return _LINESEP.join(out) + _LINESEP


@lru_cache(maxsize=4096)
def _encode_text(name: str, value: str) -> str:
    """Unstructured header (Subject, extra headers): ASCII as is, else RFC 2047 words."""
    if value.isascii():
        return _fold_ascii(name, value)
    encoded = Header(value, "utf-8", header_name=name).encode(
        linesep=_LINESEP, maxlinelen=_MAX_LINE
    )
    return f"{name}: {encoded}{_LINESEP}"


_UTF8 = Charset("utf-8")
_MAX_ENCODED_WORD = 75


def _encoded_phrase(display: str) -> str:
    """A non-ASCII display name (single-spaced) as RFC 2047 words.

    Plain atoms stay as they are; each run of other words becomes encoded words of at most 75
    characters, split only between words, with the space between two words carried inside the
    first encoded word (RFC 2047 readers drop the folding space between adjacent encoded words;
    Python's phrase parser keeps it and so reads two spaces there, which _verify tolerates).
    A single word too long for one encoded word is left whole rather than split mid-word,
    where the two kinds of reader would disagree on whether there is a space at all.
    """
    words = display.split(" ")
    out: list[str] = []
    run: list[str] = []  # texts of the encoded words of the current run
    for word in words:
        if word.isascii() and _ATOM.fullmatch(word):
            out += [_UTF8.header_encode(text) for text in run] + [word]
            run = []
            continue
        if run:  # the previous word is in this run too
            candidate = run[-1] + " " + word
            if len(_UTF8.header_encode(candidate)) <= _MAX_ENCODED_WORD:
                run[-1] = candidate
            else:
                run[-1] += " "
                run.append(word)
        else:
            run.append(word)
    out += [_UTF8.header_encode(text) for text in run]
    if any(len(word) > 900 for word in out):
        raise ComposeError("display name: a word too long to encode in one header line")
    return " ".join(out)


@lru_cache(maxsize=4096)
def _encode_address(name: str, display: str, addr: str) -> str:
    """``Name: phrase <addr>`` with the phrase as atoms, a quoted string or encoded words."""
    if not display:
        return f"{name}: {addr}{_LINESEP}"
    if not display.isascii():
        return _fold_ascii(name, f"{_encoded_phrase(display)} <{addr}>")
    if _PHRASE_ATOMS.fullmatch(display):
        return _fold_ascii(name, f"{display} <{addr}>")
    quoted = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name}: {quoted} <{addr}>{_LINESEP}"  # at most ~470 octets: no folding needed


def _normalise_body(text: str) -> bytes:
    """UTF-8 with LF line ends (CRLF and lone CR become LF) and a final newline."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not text.endswith("\n"):
        text += "\n"
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ComposeError(f"body: not encodable as UTF-8: {exc.reason}") from None


_NOT_7BIT_TEXT = re.compile(rb"[^\t\n\x20-\x7e]")
_MAX_7BIT_LINE = 998  # RFC 5321 §4.5.3.1.6, without the CRLF


def _is_7bit_text(data: bytes) -> bool:
    """Printable ASCII (and tabs) in lines of at most 998 octets. Two linear scans: the
    single regex with a ``[^\n]{999}`` branch backtracked at every position."""
    if _NOT_7BIT_TEXT.search(data):
        return False
    return max(map(len, data.split(b"\n"))) <= _MAX_7BIT_LINE


def _encode_body(data: bytes) -> tuple[str, bytes]:
    """(Content-Transfer-Encoding, CRLF body): 7bit for plain short-lined ASCII, else the
    shorter of quoted-printable and base64. Never 8bit, so no 8BITMIME is needed."""
    if _is_7bit_text(data):
        return "7bit", data.replace(b"\n", b"\r\n")
    qp = binascii.b2a_qp(data, istext=True)
    b64_len = (len(data) + 2) // 3 * 4 * 78 // 76
    if len(qp) <= b64_len:
        return "quoted-printable", qp.replace(b"\n", b"\r\n")
    return "base64", base64.encodebytes(data).replace(b"\n", b"\r\n")


@dataclass(frozen=True)
class _Part:
    content_type: str
    data: bytes  # the text as given (UTF-8, LF line ends)
    cte: str
    body: bytes  # encoded, CRLF line ends

    @property
    def head(self) -> bytes:
        return (
            f'Content-Type: {self.content_type}; charset="utf-8"{_LINESEP}'
            f"Content-Transfer-Encoding: {self.cte}"
        ).encode("ascii")


def _part(kind: str, data: bytes) -> _Part:
    cte, body = _encode_body(data)
    return _Part(data=data, cte=cte, body=body, content_type=f"text/{kind}")


def _decode_body(part: _Part) -> bytes:
    if part.cte == "7bit":
        decoded = part.body
    elif part.cte == "quoted-printable":
        decoded = binascii.a2b_qp(part.body)
    else:
        decoded = base64.b64decode(part.body, validate=False)
    return decoded.replace(b"\r\n", b"\n")


def compose(inp: ComposeInput) -> ComposedMessage:
    """Return the final bytes of ``inp`` with CRLF line endings, or raise.

    Raises :class:`HeaderInjectionError` (naming the field) when any user-supplied header
    value carries line breaks, control characters, Unicode line separators or RFC 2047
    syntax, and :class:`ComposeError` (naming the field) for an invalid or ambiguous address,
    URL, Message-ID, naive date, empty subject, overlong value or bad extra header. Display
    names have each whitespace run made one space and are stripped; the subject and extra
    header values are stripped; everything else is written as given. Body line ends are
    normalised to CRLF; bodies are 7bit, quoted-printable or base64 (never 8bit).

    Promise: the returned bytes, parsed back by the stdlib parser, have exactly the headers
    From, To, Subject, Date, Message-ID, MIME-Version, Content-Type (+ Content-Transfer-
    Encoding for a single part), and Reply-To / List-Unsubscribe / List-Unsubscribe-Post /
    extra headers when asked for, each once, decoding to the values set here; the To address
    is the only envelope recipient; the bodies decode to the given text. Deterministic: the
    same input gives the same bytes (the multipart boundary is fixed, or derived from the
    content if a body contains it). No I/O, no clock, no randomness.
    """
    from_name = _check_name(inp.from_name, "from_name")
    from_email = _check_address(inp.from_email, "from_email")
    to_name = _check_name(inp.to_name, "to_name")
    to_email = _check_address(inp.to_email, "to_email")
    reply_to = _check_address(inp.reply_to, "reply_to") if inp.reply_to else None
    _check(inp.subject, "subject")
    subject = inp.subject.strip()
    if not subject:
        raise ComposeError("subject: empty")
    if len(subject) > _MAX_HEADER_VALUE:
        raise ComposeError(f"subject: longer than {_MAX_HEADER_VALUE} characters")
    if len(from_name) > 200 or len(to_name) > 200:
        raise ComposeError("from_name/to_name: longer than 200 characters")
    message_id = _check_message_id(inp.message_id)
    if inp.date.tzinfo is None or inp.date.utcoffset() is None:
        raise ComposeError("date: must be timezone-aware")
    date = format_datetime(inp.date)

    unsubscribe: list[str] = []
    if inp.list_unsubscribe_mailto:
        mailto = _check_address(inp.list_unsubscribe_mailto, "list_unsubscribe_mailto")
        unsubscribe.append(f"<mailto:{quote(mailto, safe='@.+-_')}?subject=unsubscribe>")
    url = _check_url(inp.unsubscribe_url, "unsubscribe_url") if inp.unsubscribe_url else None
    if url:
        unsubscribe.append(f"<{url}>")
    extras: list[tuple[str, str]] = []
    seen: set[str] = set()
    for name, value in inp.extra_headers:
        extras.append((name, _check_extra(name, value, seen)))
    if not isinstance(inp.text, str) or (inp.html is not None and not isinstance(inp.html, str)):
        raise ComposeError("text/html: must be text")
    text = _normalise_body(inp.text)
    html = _normalise_body(inp.html) if inp.html is not None else None

    head = [
        _encode_address("From", from_name, from_email),
        _encode_address("To", to_name, to_email),
    ]
    if reply_to:
        head.append(_encode_address("Reply-To", "", reply_to))
    head.append(_encode_text("Subject", subject))
    head.append(f"Date: {date}{_LINESEP}")
    head.append(f"Message-ID: {message_id}{_LINESEP}")
    if unsubscribe:
        head.append(f"List-Unsubscribe: {(',' + _LINESEP + ' ').join(unsubscribe)}{_LINESEP}")
    if url:
        head.append(f"List-Unsubscribe-Post: List-Unsubscribe=One-Click{_LINESEP}")
    for name, value in extras:
        head.append(_encode_text(name, value))
    head.append(f"MIME-Version: 1.0{_LINESEP}")
    crlf = _LINESEP.encode("ascii")
    boundary: str | None = None
    if html is None:
        parts = [_part("plain", text)]
        raw = "".join(head).encode("ascii") + parts[0].head + crlf + crlf + parts[0].body
    else:
        parts = [_part("plain", text), _part("html", html)]
        boundary = _boundary(message_id, parts)
        head.append(f'Content-Type: multipart/alternative; boundary="{boundary}"{_LINESEP}')
        delim = b"--" + boundary.encode("ascii")
        chunks = ["".join(head).encode("ascii"), crlf]
        for part in parts:
            # The CRLF before a delimiter belongs to the delimiter: add one so each part
            # keeps its own final line end.
            chunks += [delim, crlf, part.head, crlf, crlf, part.body, crlf]
        chunks += [delim, b"--", crlf]
        raw = b"".join(chunks)

    expected: dict[str, str] = {
        "from": "",
        "to": "",
        "subject": subject,
        "date": date,
        "message-id": message_id,
        "mime-version": "1.0",
        "content-type": "",
    }
    if html is None:
        expected["content-transfer-encoding"] = ""
    if reply_to:
        expected["reply-to"] = ""
    if unsubscribe:
        expected["list-unsubscribe"] = ", ".join(unsubscribe)
    if url:
        expected["list-unsubscribe-post"] = "List-Unsubscribe=One-Click"
    for name, value in extras:
        expected[name.lower()] = value
    _verify(
        raw,
        expected,
        from_=(from_name, from_email),
        to=(to_name, to_email),
        reply_to=reply_to,
        parts=parts,
        boundary=boundary,
    )
    return ComposedMessage(
        raw=raw,
        sha256=content_hash(raw),
        envelope=Envelope(sender=from_email, recipients=(to_email,)),
        message_id=message_id,
    )


_BOUNDARY = "=_outreach_alternative"


def _boundary(message_id: str, parts: list[_Part]) -> str:
    """The MIME boundary: fixed (the parser's boundary regex stays cached), or one derived from
    the content when a 7bit body happens to contain it; never random, so the same input gives
    the same bytes. It starts with ``=_``, which quoted-printable and base64 output can never
    contain."""
    if not any(_BOUNDARY.encode("ascii") in part.body for part in parts):
        return _BOUNDARY
    digest = hashlib.sha256(message_id.encode("ascii"))
    for part in parts:
        digest.update(part.head)
        digest.update(part.body)
    for n in range(100):
        boundary = f"{_BOUNDARY}_{digest.hexdigest()[:32]}_{n}"
        if not any(boundary.encode("ascii") in part.body for part in parts):
            return boundary
    raise ComposeError("body: no usable MIME boundary")  # pragma: no cover - needs a 2^128 hit


@lru_cache(maxsize=4096)
def _decode_header(name: str, value: str) -> tuple[str, tuple[tuple[str, str], ...] | None, int]:
    """How a modern reader decodes one header: (text, addresses or None, defect count).

    Cached: From, Reply-To and usually Subject repeat across a campaign's messages, and the
    stdlib's address parser is the slowest step of composing.
    """
    header = _READER.header_factory(name, value)
    addresses = getattr(header, "addresses", None)
    if addresses is not None:
        addresses = tuple((a.display_name, a.addr_spec) for a in addresses)
    return str(header), addresses, len(header.defects)


def _verify(
    raw: bytes,
    expected: dict[str, str],
    *,
    from_: tuple[str, str],
    to: tuple[str, str],
    reply_to: str | None,
    parts: list[_Part],
    boundary: str | None,
) -> None:
    """Parse the header block of ``raw`` back and raise unless it is what we meant.

    The header block must be ASCII, CRLF only, no whitespace-only line, lines of at most 998
    octets; the stdlib parser must find exactly the header names in ``expected`` (each once)
    and no defect; each value decodes as ``email.policy.default`` would decode it (the same
    unfolding and header factory) to exactly the given text (values of "" are structured
    headers checked separately: addresses, MIME). Bodies: the boundary occurs only as the
    three delimiter lines, the MIME headers are ours, and each encoded part decodes back to
    the given text. (The bodies are not re-parsed line by line: that tripled the cost.)
    """
    head, sep, rest = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if (
        not sep
        or not head.isascii()
        or any(b"\r" in ln or b"\n" in ln or len(ln) > 998 or not ln.strip() for ln in lines)
    ):
        raise HeaderInjectionError("composed message: malformed header block")
    parsed = _RAW_PARSER.parsebytes(head + sep, headersonly=True)
    if parsed.defects:
        raise HeaderInjectionError(f"composed message: parser found defects: {parsed.defects}")
    names = [k.lower() for k in parsed]
    if len(names) != len(expected) or set(names) != set(expected):
        unexpected = sorted({n for n in names if n not in expected or names.count(n) > 1})
        raise HeaderInjectionError(
            "composed message: header set differs from what was written"
            + (f": unexpected {', '.join(unexpected)}" if unexpected else "")
        )
    decoded: dict[str, tuple[str, tuple[tuple[str, str], ...] | None, int]] = {}
    unfolded: dict[str, str] = {}
    for name, value in parsed.items():
        key = name.lower()
        value = _LINE_BREAK.sub("", value)
        if key in _ADDRESS_HEADERS:
            unfolded[key] = value  # checked below, address by address
            continue
        want = expected[key]
        if want and value == want and "=?" not in value:
            continue  # plain ASCII, no encoded word: policy.default decodes it to itself
        decoded[key] = text, _, defects = _decode_header(name, value)
        if defects or (want and text != want):
            raise HeaderInjectionError(f"composed message: {key} does not read back as written")
    for name, (display, addr) in (("from", from_), ("to", to), ("reply-to", ("", reply_to))):
        if name == "reply-to" and reply_to is None:
            continue
        if not _reads_back_as(name, unfolded[name], display, addr):
            raise HeaderInjectionError(
                f"composed message: {name} does not read back as {display!r} <{addr}>"
            )
    ctype = parsed.get_content_type()
    if boundary is None:
        ok = ctype == "text/plain" and parsed["Content-Transfer-Encoding"] == parts[0].cte
    else:
        delim = b"--" + boundary.encode("ascii")
        ok = (
            ctype == "multipart/alternative"
            and parsed.get_boundary() == boundary
            and rest.count(delim) == len(parts) + 1
            and rest.endswith(delim + b"--\r\n")
        )
    if not ok:
        raise ComposeError("composed message: unexpected MIME structure")
    for part in parts:
        if _decode_body(part) != part.data.replace(b"\r\n", b"\n"):
            raise ComposeError("composed message: a body part does not decode to the given text")


_ADDRESS_HEADERS = frozenset({"from", "to", "reply-to"})
#: Stands in for the address when the display-name part of an address header is checked.
_PROBE_ADDRESS = "recipient@probe.invalid"


def _reads_back_as(name: str, value: str, display: str, addr: str | None) -> bool:
    """Whether the (unfolded) address header ``value`` reads back, as policy.default reads
    it, as exactly one mailbox: display name ``display`` (modulo runs of whitespace, see
    _encoded_phrase) and address exactly ``addr``.

    Every recipient differs, and the stdlib's address parser is the slowest step of composing,
    so the address is compared as a string and only the display-name part is parsed (cached):
    ``value`` must be ``addr`` alone (no display name), or end with `` <addr>``. ``addr`` is a
    plain ``dot-atom@domain`` (checked again here), as is the probe address, so the parser
    reads ``PHRASE <addr>`` exactly as it reads ``PHRASE <probe>`` (the phrase ends at the
    ``<``; a dot-atom address holds no character that could end, open or continue anything
    else); the probe header must read back as exactly one mailbox, with the display name
    wanted, the probe address, and no defect.
    """
    if addr is None or not _ADDR_SPEC.fullmatch(addr):
        return False
    if display:
        tail = f" <{addr}>"
        if not value.endswith(tail):
            return False
        probe = value[: -len(tail)] + f" <{_PROBE_ADDRESS}>"
    elif value == addr:
        probe = _PROBE_ADDRESS
    else:
        return False
    _, addresses, defects = _decode_header(name, probe)
    return (
        not defects
        and addresses is not None
        and len(addresses) == 1
        and addresses[0][1] == _PROBE_ADDRESS
        and " ".join(addresses[0][0].split()) == display
    )


def make_message_id(*, domain: str, unique: str | None = None) -> str:
    """Return ``<unique@domain>``; ``unique`` defaults to 128 random bits in hex.

    Not deterministic when ``unique`` is omitted (that is the point). Raises ComposeError
    for a domain or unique part that could not appear in a Message-ID.
    """
    if not _DOMAIN_RE.fullmatch(domain):
        raise ComposeError(f"message-id domain: not a host name: {domain!r}")
    if unique is None:
        unique = secrets.token_hex(16)
    elif not _UNIQUE.fullmatch(unique):
        raise ComposeError(f"message-id unique part: not dot-atom text: {unique!r}")
    return _check_message_id(f"<{unique}@{domain}>", "message_id")


def content_hash(raw: bytes) -> str:
    """SHA-256 of ``raw`` as lowercase hex: what approval records and dispatch re-checks."""
    return hashlib.sha256(raw).hexdigest()
