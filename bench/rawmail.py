"""Byte-level mail for the ceilings (:mod:`bench.ceilings`): a compose that joins bytes without
any check, and an mbox split plus a header-block-only parse. Pure: no I/O, no clock."""

from __future__ import annotations

import base64
import binascii
import hashlib
import mmap
import re
from collections.abc import Iterator, Sequence
from datetime import datetime
from email.utils import format_datetime
from typing import Any

CRLF = b"\r\n"
BOUNDARY = b"=_bench_alternative"


def _header_text(value: str) -> str:
    """The value as is when ASCII, else one RFC 2047 encoded word (no folding, no checks)."""
    if value.isascii():
        return value
    return "=?utf-8?b?" + base64.b64encode(value.encode("utf-8")).decode("ascii") + "?="


def _address(name: str | None, addr: str) -> str:
    if not name:
        return addr
    if name.isascii():
        return f'"{name}" <{addr}>'
    return f"{_header_text(name)} <{addr}>"


def _qp_body(text: str) -> bytes:
    return binascii.b2a_qp(text.encode("utf-8"), istext=True).replace(b"\n", CRLF)


def join_message(
    *,
    from_name: str | None,
    from_email: str,
    to_name: str | None,
    to_email: str,
    reply_to: str | None,
    subject: str,
    date: datetime,
    message_id: str,
    text: str,
    html: str | None,
    extra_headers: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The ceiling's compose: header lines and quoted-printable bodies joined as bytes (CRLF),
    multipart/alternative when there is HTML. No checks of any kind: it trusts its input."""
    head = [
        f"From: {_address(from_name, from_email)}",
        f"To: {_address(to_name, to_email)}",
    ]
    if reply_to:
        head.append(f"Reply-To: {reply_to}")
    head += [
        f"Subject: {_header_text(subject)}",
        f"Date: {format_datetime(date)}",
        f"Message-ID: {message_id}",
        f"List-Unsubscribe: <mailto:{reply_to or from_email}?subject=unsubscribe>",
    ]
    head += [f"{name}: {_header_text(value)}" for name, value in extra_headers]
    head.append("MIME-Version: 1.0")
    part_head = (
        b'Content-Type: text/%s; charset="utf-8"\r\nContent-Transfer-Encoding: quoted-printable'
    )
    if html is None:
        return (
            "\r\n".join(head).encode("ascii")
            + CRLF
            + part_head % b"plain"
            + CRLF
            + CRLF
            + _qp_body(text)
        )
    head.append(f'Content-Type: multipart/alternative; boundary="{BOUNDARY.decode()}"')
    delim = b"--" + BOUNDARY
    return b"".join(
        [
            "\r\n".join(head).encode("ascii"),
            CRLF,
            CRLF,
            delim,
            CRLF,
            part_head % b"plain",
            CRLF,
            CRLF,
            _qp_body(text),
            CRLF,
            delim,
            CRLF,
            part_head % b"html",
            CRLF,
            CRLF,
            _qp_body(html),
            CRLF,
            delim,
            b"--",
            CRLF,
        ]
    )


_QUOTED_FROM = re.compile(rb"^>(>*From )", re.MULTILINE)
#: the headers matching and classification need first
HEADERS = ("message-id", "in-reply-to", "references", "from", "auto-submitted", "content-type")


def mbox_share(data: bytes | mmap.mmap, share: int, shares: int) -> Iterator[bytes]:
    """The messages (envelope line dropped, mboxrd ``>From`` unquoted) that start in the
    ``share``-th of ``shares`` equal byte ranges of an mbox."""
    size = len(data)
    lo, hi = size * share // shares, size * (share + 1) // shares

    def boundary(at: int) -> int:
        if at <= 0:
            return 0
        found = data.find(b"\nFrom ", at - 1)
        return size if found < 0 else found + 1

    pos, stop = boundary(lo), boundary(hi)
    while pos < stop:
        nxt = data.find(b"\nFrom ", pos)
        end = stop if nxt < 0 or nxt + 1 > stop else nxt + 1
        message = data[data.find(b"\n", pos) + 1 : end]
        if b"\n>" in message:
            message = _QUOTED_FROM.sub(rb"\1", message)
        yield message
        pos = end


def header_row(message: bytes, parser: Any) -> dict[str, Any]:
    """One stored row: the message's SHA-256 and raw bytes, and the headers in
    :data:`HEADERS` from its header block alone (the body is never parsed)."""
    cut = message.find(b"\n\n")
    head = parser.parsebytes(message if cut < 0 else message[: cut + 1])
    row = {name.replace("-", "_"): head.get(name) for name in HEADERS}
    row["sha256"] = hashlib.sha256(message).hexdigest()
    row["raw"] = message
    return row
