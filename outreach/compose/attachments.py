"""Attachment parts: the :class:`Attachment` value, its checks, and its MIME part written
byte by byte (``Content-Type`` with ``name``, ``Content-Disposition: attachment`` with
``filename``, base64 body).

File names of any script are written with RFC 2231 (``filename*=utf-8''Minist%C3%A8re…``),
split into numbered continuations (``filename*0*=…; filename*1*=…``) so that no header line
runs past 78 columns; plain ASCII names are quoted strings. Nothing of a file name or type
ever reaches a header unchecked: names go through :func:`~outreach.compose.headers.check_value`
(no line break, control character or encoded word), types and parameters must be RFC 2045
tokens, and :mod:`outreach.compose.readback` parses the result back.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import quote

from outreach.compose.headers import check_value
from outreach.errors import ComposeError

LINESEP = "\r\n"
_TOKEN = r"[A-Za-z0-9!#$&^_.+-]+"
_MIME_TYPE = re.compile(rf"{_TOKEN}/{_TOKEN}")
_PARAM_NAME = re.compile(r"[a-z][a-z0-9-]*")
_PARAM_VALUE = re.compile(_TOKEN)
#: RFC 2231 attribute-char: every printable ASCII but space, ``* ' %`` and the tspecials.
_ATTRIBUTE_CHARS = "!#$&+-.^_`|~"
_QUOTED_SAFE = re.compile(r"[ !#-\[\]-~]*")  # printable ASCII but '"' and '\'
_CHUNK = 50  # characters of a parameter value per header line (lines stay under 78)
_RESERVED_PARAMS = frozenset({"name", "filename", "boundary"})
MAX_FILENAME = 255


@dataclass(frozen=True)
class Attachment:
    """One file attached to a message: its name as the recipient sees it (no folder), its MIME
    type (``type/subtype``) with extra parameters (``(("method", "PUBLISH"),)``) and its bytes."""

    filename: str
    content_type: str
    data: bytes
    params: tuple[tuple[str, str], ...] = ()


def check_attachment(att: Attachment, index: int) -> Attachment:
    """``att`` with its type lower-cased, when every part of it is safe to write; else
    :class:`ComposeError` (or :class:`HeaderInjectionError`) naming ``attachments[index]``."""
    where = f"attachments[{index}]"
    if not isinstance(att.data, bytes):
        raise ComposeError(f"{where}: the content must be bytes")
    check_value(att.filename, f"{where}.filename")
    name = att.filename
    if not name.strip() or name != name.strip() or len(name) > MAX_FILENAME:
        raise ComposeError(f"{where}.filename: empty, padded or over {MAX_FILENAME} characters")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise ComposeError(f"{where}.filename: must be a file name, not a path: {name!r}")
    ctype = att.content_type.lower()
    if not _MIME_TYPE.fullmatch(ctype) or ctype.startswith(("multipart/", "message/")):
        raise ComposeError(f"{where}.content_type: not a usable MIME type: {att.content_type!r}")
    seen: set[str] = set()
    for key, value in att.params:
        if not _PARAM_NAME.fullmatch(key) or key in _RESERVED_PARAMS or key in seen:
            raise ComposeError(f"{where}.params: parameter {key!r} refused")
        if not _PARAM_VALUE.fullmatch(value):
            raise ComposeError(f"{where}.params: value of {key!r} is not a token: {value!r}")
        seen.add(key)
    return Attachment(name, ctype, att.data, tuple(att.params))


def param_segments(name: str, value: str) -> list[str]:
    """``name=value`` as MIME parameter text, one string per header line: a quoted string
    when ``value`` is short printable ASCII, else RFC 2231 (percent-encoded UTF-8 when not
    ASCII; whole characters per line) in numbered continuations of at most 50 characters of value each."""
    if value.isascii() and _QUOTED_SAFE.fullmatch(value):
        if len(value) <= _CHUNK:
            return [f'{name}="{value}"']
        chunks = [value[i : i + _CHUNK] for i in range(0, len(value), _CHUNK)]
        return [f'{name}*{i}="{chunk}"' for i, chunk in enumerate(chunks)]
    chunks = _encoded_chunks(value)
    if len(chunks) == 1:
        return [f"{name}*=utf-8''{chunks[0]}"]
    return [f"{name}*0*=utf-8''{chunks[0]}"] + [
        f"{name}*{i}*={chunk}" for i, chunk in enumerate(chunks[1:], start=1)
    ]


def _encoded_chunks(value: str) -> list[str]:
    """``value`` percent-encoded (UTF-8, RFC 2231 attribute-chars kept) in chunks of at most
    :data:`_CHUNK` characters, split only between characters: a reader decodes each
    continuation on its own and flags a character cut in two."""
    chunks: list[str] = []
    current = ""
    for ch in value:
        encoded = quote(ch.encode("utf-8"), safe=_ATTRIBUTE_CHARS)
        if current and len(current) + len(encoded) > _CHUNK:
            chunks.append(current)
            current = ""
        current += encoded
    chunks.append(current)
    return chunks


def _header(name: str, value: str, segments: list[str]) -> str:
    """``Name: value;`` with each parameter segment on its own folded line."""
    return f"{name}: {value}" + "".join(f";{LINESEP} {seg}" for seg in segments)


@dataclass(frozen=True)
class AttachmentPart:
    """One attachment as written: its header block (CRLF between lines, none at the end) and
    its base64 body (CRLF line ends)."""

    attachment: Attachment
    head: bytes
    body: bytes


def make_attachment_part(att: Attachment) -> AttachmentPart:
    """The MIME part of a checked attachment."""
    type_segments = [f"{k}={v}" for k, v in att.params]
    type_segments += param_segments("name", att.filename)
    head = LINESEP.join(
        (
            _header("Content-Type", att.content_type, type_segments),
            _header("Content-Disposition", "attachment", param_segments("filename", att.filename)),
            "Content-Transfer-Encoding: base64",
        )
    )
    body = base64.encodebytes(att.data).replace(b"\n", b"\r\n")
    return AttachmentPart(att, head.encode("ascii"), body)
