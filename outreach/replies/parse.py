"""Parse one inbound message into a :class:`ParsedInbound` without ever raising.

Pure: no database, no clock, no I/O. Hostile input is the normal case here (bounces from broken
MTAs, spam, mutated test input), so :func:`parse_inbound` guards the stdlib ``email`` package;
the work is split by concern:

- :mod:`~outreach.replies.limits`: every cap (size, nesting, header length, text kept);
- :mod:`~outreach.replies.guards`: the raw bytes made safe before the parser sees them (a
  message over ``max_bytes`` is only sniffed for a few headers and comes back ``oversize``);
- :mod:`~outreach.replies.headers`: header values decoded to one safe line each, ids,
  addresses and dates;
- :mod:`~outreach.replies.body`: the best text part, decoded with the declared charset when it
  exists and fits, else UTF-8, else Latin-1, always with a size cap;
- :mod:`~outreach.replies.dsn`: what a bounce says (:class:`~outreach.replies.dsn.DsnInfo`).

Whatever happens, the raw bytes are kept in the result; a message that cannot be parsed at all
has ``error`` set.
"""

from __future__ import annotations

import hashlib
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.parser import BytesParser
from typing import Any

from outreach.replies.body import best_text
from outreach.replies.boundary import boundary_lost, repair_boundary
from outreach.replies.dsn import (
    BOUNCE_LOCALPARTS,
    BOUNCE_SUBJECT_RE,
    BOUNCE_TEXT_RE,
    DsnInfo,
    is_bounce_sender,
    read_dsn,
)
from outreach.replies.guards import cap_top_headers, structure_defect, tame_content_headers
from outreach.replies.headers import (
    KEPT_HEADERS,
    POLICY,
    header_date,
    kept_headers,
    message_id,
    message_ids,
    one_line,
    raw_headers,
    recipients,
    sender,
    sniff_headers,
)
from outreach.replies.limits import (
    DEFAULT_MAX_BYTES,
    MAX_ADDRESS_HEADER_BYTES,
    MAX_ADDRESSES,
    MAX_BODY_BYTES,
    MAX_CONTAINERS,
    MAX_CONTENT_HEADER_BYTES,
    MAX_CONTENT_TYPES,
    MAX_HEADER_BYTES,
    MAX_HEADER_LINES,
    MAX_PARTS,
    MAX_TEXT_CHARS,
    SNIFF_BYTES,
)

__all__ = [
    "BOUNCE_LOCALPARTS",
    "BOUNCE_SUBJECT_RE",
    "BOUNCE_TEXT_RE",
    "DEFAULT_MAX_BYTES",
    "KEPT_HEADERS",
    "MAX_ADDRESSES",
    "MAX_ADDRESS_HEADER_BYTES",
    "MAX_BODY_BYTES",
    "MAX_CONTAINERS",
    "MAX_CONTENT_HEADER_BYTES",
    "MAX_CONTENT_TYPES",
    "MAX_HEADER_BYTES",
    "MAX_HEADER_LINES",
    "MAX_PARTS",
    "MAX_TEXT_CHARS",
    "POLICY",
    "SNIFF_BYTES",
    "DsnInfo",
    "ParsedInbound",
    "is_bounce_sender",
    "parse_inbound",
]


@dataclass(frozen=True)
class ParsedInbound:
    """One inbound message, parsed as far as it safely could be.

    ``raw`` is always the exact input. Ids (``message_id``, ``in_reply_to``, ``references``)
    keep their angle brackets. ``from_addr`` and ``to_addrs`` are lowercase addr-specs;
    ``to_addrs`` holds To, Cc, Delivered-To and X-Original-To. ``date`` is aware UTC.
    ``headers`` maps lower-cased names from :data:`KEPT_HEADERS` (and ``x-outreach-*``) to their
    decoded one-line values. ``text`` is the best text/plain body (or the text of the HTML body).
    ``error`` is set only when the message could not be parsed at all; ``defects`` lists what was
    cut or skipped on the way. Not hashable (``headers`` is a read-only mapping).
    """

    raw: bytes = field(repr=False)
    raw_sha256: str
    size: int
    message_id: str | None = None
    in_reply_to: tuple[str, ...] = ()
    references: tuple[str, ...] = ()
    from_addr: str | None = None
    from_name: str | None = None
    to_addrs: tuple[str, ...] = ()
    subject: str = ""
    date: datetime | None = None
    headers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    text: str = field(default="", repr=False)
    dsn: DsnInfo | None = None
    error: str | None = None
    oversize: bool = False
    defects: tuple[str, ...] = ()

    def header(self, name: str) -> str | None:
        """The first kept value of header ``name`` (any case), or ``None``."""
        values = self.headers.get(name.lower())
        return values[0] if values else None


def parse_inbound(raw: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedInbound:
    """Parse ``raw`` (one RFC 5322 message). Never raises; the raw bytes are always kept.

    Over ``max_bytes``: ``oversize=True`` and only Message-ID, In-Reply-To, References, From,
    Subject and Date sniffed from the first :data:`SNIFF_BYTES`. A message that cannot be parsed
    at all comes back with ``error`` set (and whatever headers could be sniffed).
    """
    try:
        data = bytes(raw)
    except Exception:  # not bytes-like at all: keep an empty message with the error
        data = b""
        return _sniffed(data, error=f"input is not bytes ({type(raw).__name__})")
    try:
        if len(data) > max_bytes:
            return _sniffed(data, oversize=True)
        return _parse(data)
    except Exception as exc:  # RecursionError and MemoryError included: the run goes on
        return _sniffed(data, error=f"{type(exc).__name__}: {one_line(str(exc))[:300]}")


def _identity(data: bytes, headers: Mapping[str, list[str]]) -> dict[str, Any]:
    """The fields every result has, however its headers were read: the raw bytes, their hash
    and size, the Message-ID, the ids it answers and its date."""
    return {
        "raw": data,
        "raw_sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "message_id": message_id(_first(headers, "message-id")),
        "in_reply_to": message_ids(" ".join(headers.get("in-reply-to", ()))),
        "references": message_ids(" ".join(headers.get("references", ())), keep_last=True),
        "date": header_date(_first(headers, "date")),
    }


def _first(headers: Mapping[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def _parse(data: bytes) -> ParsedInbound:
    """The full parse, behind the guards; body and DSN failures become ``defects``."""
    defects: list[str] = []
    head, body, big_addresses = cap_top_headers(data, defects)
    too_complex = structure_defect(head, body)
    if too_complex is not None:
        defects.append(too_complex)
        body = b""
    headers_only = too_complex is not None
    sanitized = tame_content_headers(head + body, defects)
    msg = BytesParser(policy=POLICY).parsebytes(sanitized, headersonly=headers_only)
    if not headers_only and boundary_lost(msg):
        repaired = repair_boundary(sanitized)
        if repaired is not None:
            defects.append("MIME boundary in the header does not match the body; the body's used")
            msg = BytesParser(policy=POLICY).parsebytes(repaired)
    top = raw_headers(msg)

    from_addr, from_name = sender(_first(top, "from"), big_addresses.get("from"))
    to_addrs = recipients(top, big_addresses)
    subject = (_first(top, "subject") or "")[:2000]
    text = ""
    dsn = None
    if not headers_only:
        try:
            text = best_text(msg)
        except (Exception, RecursionError) as exc:
            defects.append(f"body not decoded: {type(exc).__name__}")
        try:
            dsn = read_dsn(msg, top, from_addr, subject, text)
        except (Exception, RecursionError) as exc:
            defects.append(f"delivery status not read: {type(exc).__name__}")
    return ParsedInbound(
        **_identity(data, top),
        from_addr=from_addr,
        from_name=from_name,
        to_addrs=to_addrs,
        subject=subject,
        headers=kept_headers(top),
        text=text,
        dsn=dsn,
        defects=tuple(defects),
    )


def _sniffed(data: bytes, *, oversize: bool = False, error: str | None = None) -> ParsedInbound:
    """A result from a bounded regex over the first bytes only; never raises."""
    found = sniff_headers(data)
    try:
        from_addr, from_name = sender(_first(found, "from"), None)
    except Exception:
        from_addr, from_name = None, None
    return ParsedInbound(
        **_identity(data, found),
        from_addr=from_addr,
        from_name=from_name,
        subject=(_first(found, "subject") or "")[:2000],
        error=error,
        oversize=oversize,
    )
