"""Writing the wire format: header lines (folded, RFC 2047 where needed) and body parts.

Why the wire format is written here rather than by ``EmailMessage.as_bytes()``: the modern
email API costs ~12 ms per message on 3.11 (header objects re-parsed on every access and
refolded by the generic folder) and RFC 2047-encodes a long List-Unsubscribe URL, which mail
clients then cannot use. We write the few header shapes we need with the stdlib's own encoders
(``email.header.Header`` for encoded words, ``binascii`` for quoted-printable and base64,
``email.utils`` for the date), and then trust nothing: :mod:`outreach.compose.readback` reads
the bytes back and every header must decode to what we meant.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from email.charset import Charset
from email.header import Header
from functools import lru_cache

from outreach.compose.headers import ATEXT
from outreach.errors import ComposeError

LINESEP = "\r\n"
_MAX_LINE = 78
_PHRASE_ATOMS = re.compile(rf"{ATEXT}+(?: {ATEXT}+)*")
_ATOM = re.compile(rf"{ATEXT}+")
_FOLD_POINT = re.compile(r" (?=\S)")  # fold before a space that has text after it


@lru_cache(maxsize=4096)
def fold_ascii(name: str, value: str) -> str:
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
    return LINESEP.join(out) + LINESEP


@lru_cache(maxsize=4096)
def encode_text(name: str, value: str) -> str:
    """Unstructured header (Subject, extra headers): ASCII as is, else RFC 2047 words."""
    if value.isascii():
        return fold_ascii(name, value)
    encoded = Header(value, "utf-8", header_name=name).encode(linesep=LINESEP, maxlinelen=_MAX_LINE)
    return f"{name}: {encoded}{LINESEP}"


_UTF8 = Charset("utf-8")
_MAX_ENCODED_WORD = 75


def _encoded_phrase(display: str) -> str:
    """A non-ASCII display name (single-spaced) as RFC 2047 words.

    Plain atoms stay as they are; each run of other words becomes encoded words of at most 75
    characters, split only between words, with the space between two words carried inside the
    first encoded word (RFC 2047 readers drop the folding space between adjacent encoded words;
    Python's phrase parser keeps it and so reads two spaces there, which the read-back check
    tolerates). A single word too long for one encoded word is left whole rather than split
    mid-word, where the two kinds of reader would disagree on whether there is a space at all.
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
def encode_address(name: str, display: str, addr: str) -> str:
    """``Name: phrase <addr>`` with the phrase as atoms, a quoted string or encoded words."""
    if not display:
        return f"{name}: {addr}{LINESEP}"
    if not display.isascii():
        return fold_ascii(name, f"{_encoded_phrase(display)} <{addr}>")
    if _PHRASE_ATOMS.fullmatch(display):
        return fold_ascii(name, f"{display} <{addr}>")
    quoted = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name}: {quoted} <{addr}>{LINESEP}"  # at most ~470 octets: no folding needed


def normalise_body(text: str) -> bytes:
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
class Part:
    """One text part: the text as given and how it is written."""

    content_type: str
    data: bytes  # the text as given (UTF-8, LF line ends)
    cte: str
    body: bytes  # encoded, CRLF line ends

    @property
    def head(self) -> bytes:
        return (
            f'Content-Type: {self.content_type}; charset="utf-8"{LINESEP}'
            f"Content-Transfer-Encoding: {self.cte}"
        ).encode("ascii")


def make_part(kind: str, data: bytes) -> Part:
    """The ``text/<kind>`` part of ``data`` (UTF-8, LF line ends), encoded."""
    cte, body = _encode_body(data)
    return Part(data=data, cte=cte, body=body, content_type=f"text/{kind}")


def decode_body(part: Part) -> bytes:
    """The body of ``part`` decoded back (LF line ends), as a reader would decode it."""
    if part.cte == "7bit":
        decoded = part.body
    elif part.cte == "quoted-printable":
        decoded = binascii.a2b_qp(part.body)
    else:
        decoded = base64.b64decode(part.body, validate=False)
    return decoded.replace(b"\r\n", b"\n")


_BOUNDARY = "=_outreach_alternative"


def boundary_for(message_id: str, parts: list[Part]) -> str:
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


_MIXED = "=_outreach_mixed"


def mixed_boundary_for(message_id: str, contents: list[bytes]) -> str:
    """The multipart/mixed boundary: fixed unless one of ``contents`` (the text entity, the
    attachment headers; base64 bodies cannot contain ``=_``) holds it, then derived from the
    content, never random."""
    if not any(_MIXED.encode("ascii") in content for content in contents):
        return _MIXED
    digest = hashlib.sha256(message_id.encode("ascii"))
    for content in contents:
        digest.update(content)
    for n in range(100):
        boundary = f"{_MIXED}_{digest.hexdigest()[:32]}_{n}"
        if not any(boundary.encode("ascii") in content for content in contents):
            return boundary
    raise ComposeError("body: no usable MIME boundary")  # pragma: no cover - needs a 2^128 hit
