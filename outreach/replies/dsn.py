"""What a bounce says about the failed delivery: :class:`DsnInfo` from a parsed message. Pure.

A bounce is read from its ``message/delivery-status`` part (RFC 3464) when it has one
(``machine_readable``), else from the shape of bounces without one (qmail, Exim, old Exchange):
the sender (MAILER-DAEMON, postmaster), the subject, markers in the text, an inline copy of the
original message. The original Message-ID (quoted in a ``message/rfc822`` or headers part, or in
the inline copy) is how a bounce finds the letter it answers.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser

from outreach.replies.charset import decode_bytes
from outreach.replies.headers import (
    ADDR_RE,
    POLICY,
    clean_address,
    kept_headers,
    message_id,
    one_line,
    raw_headers,
)
from outreach.replies.limits import MAX_HEADER_BYTES, MAX_PARTS, MAX_SCANNED_TEXT

#: Localparts of the senders that send bounces.
BOUNCE_LOCALPARTS = frozenset({"mailer-daemon", "mailer_daemon", "maildaemon", "postmaster"})
#: Subjects (at the start) that bounces wear when they carry no DSN part.
BOUNCE_SUBJECT_RE = re.compile(
    r"^\s*(?:undeliver(?:ed|able)\b|undelivered mail returned to sender|"
    r"mail delivery (?:failed|failure|subsystem|system)|delivery (?:status notification|failure|delayed|"
    r"has failed|notification)|returned mail\b|failure notice|non remis|non-remis|"
    r"unzustellbar|nicht zustellbar|no se puede entregar|mensaje no entregado|"
    r"delayed mail|warning: could not send|message not delivered|"
    r"notificaci[oó]n de estado de entrega|notification d.[ée]tat de remise)",
    re.IGNORECASE,
)
#: Markers in the text of bounces without a DSN part (qmail, Exim, old Exchange).
BOUNCE_TEXT_RE = re.compile(
    r"(?:hi\. this is the qmail-send program|"
    r"this message was created automatically by mail delivery software|"
    r"your message did not reach some or all of the intended recipients|"
    r"delivery has failed to these recipients or (?:groups|distribution lists)|"
    r"i'm sorry to have to inform you that your message could not|"
    r"the following addresses had permanent fatal errors|"
    r"delivery to the following recipients? failed)",
    re.IGNORECASE,
)
_INLINE_COPY_RE = re.compile(
    r"(?im)^(?:--- below this line is a copy of the message\.|"
    r"-+ this is a copy of the message, including all the headers\. -+|"
    r"-+ original message -+|"
    r"-+ the header of the original message is following\. -+|"
    r"-+ below this line is a copy of the message\.?)\s*$"
)
_QMAIL_RCPT_RE = re.compile(r"(?m)^<([^<>\s]+@[^<>\s]+)>:\s*$")
_STATUS_RE = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\.?\d)")
_TEXT_MESSAGE_ID_RE = re.compile(r"(?im)^message-id:\s*(<[^<>\s]{1,998}>)")
_DELIVERY_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_MESSAGE_TYPES = ("message/rfc822", "message/global")
_ORIGINAL_HEADERS_TYPES = ("text/rfc822-headers", "message/global-headers")
#: Headers of the original message kept in :attr:`DsnInfo.original_headers`.
ORIGINAL_KEPT_HEADERS = ("message-id", "subject", "to", "from", "date", "in-reply-to")


@dataclass(frozen=True)
class DsnInfo:
    """What a bounce says about the failed delivery.

    Built from a ``message/delivery-status`` part when there is one (``machine_readable``), else
    read from the shape of a bounce without one (qmail, old Exchange). Addresses are lowercase
    addr-specs; ``status`` is an enhanced status code such as ``"5.1.1"``;
    ``original_message_id`` keeps its angle brackets, like every id in this module.
    """

    action: str | None = None
    status: str | None = None
    final_recipient: str | None = None
    original_recipient: str | None = None
    diagnostic: str | None = None
    remote_mta: str | None = None
    original_message_id: str | None = None
    original_headers: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: types.MappingProxyType({})
    )
    machine_readable: bool = False


def is_bounce_sender(from_addr: str | None) -> bool:
    """True when ``from_addr`` is MAILER-DAEMON, postmaster and the like."""
    if not from_addr:
        return False
    return from_addr.split("@", 1)[0].lower() in BOUNCE_LOCALPARTS


@dataclass(frozen=True)
class _ReportParts:
    """The parts of a bounce that matter: the delivery-status field blocks (``None`` when
    there is no delivery-status part) and the original message (or its headers)."""

    status_blocks: list[dict[str, str]] | None
    original: Message | None


@dataclass(frozen=True)
class _Original:
    """The original message as the bounce quotes it, and the bounce's own text before the
    quoted copy (``text_head``)."""

    headers: dict[str, list[str]]
    message_id: str | None
    text_head: str


def read_dsn(
    msg: Message,
    top: Mapping[str, list[str]],
    from_addr: str | None,
    subject: str,
    text: str,
) -> DsnInfo | None:
    """The :class:`DsnInfo` of ``msg`` when it is a delivery report or is shaped like a bounce,
    else ``None``. ``top`` are its decoded top-level headers, ``text`` its best text. May raise
    on a pathological tree (the caller records a defect)."""
    parts = _report_parts(msg)
    if not _looks_like_bounce(top, parts, from_addr, subject, text):
        return None
    blocks = parts.status_blocks
    fields = _pick_recipient(blocks or [])
    original = _original(parts.original, text)
    from_text = not blocks  # no machine-readable fields: read the text of the bounce
    final = _final_recipient(fields, top, original.text_head, from_text=from_text)
    status = _status(fields, original.text_head, from_text=from_text)
    diagnostic = _diagnostic(fields, original.text_head, from_text=from_text)
    return DsnInfo(
        action=(fields.get("action") or "").strip().lower().split(" ")[0] or None,
        status=status,
        final_recipient=final,
        original_recipient=_recipient_field(fields.get("original-recipient")),
        diagnostic=diagnostic,
        remote_mta=(one_line(fields["remote-mta"])[:300] if fields.get("remote-mta") else None),
        original_message_id=original.message_id,
        original_headers=kept_headers(original.headers, ORIGINAL_KEPT_HEADERS),
        machine_readable=blocks is not None,
    )


def _report_parts(msg: Message) -> _ReportParts:
    """Walk at most :data:`~outreach.replies.limits.MAX_PARTS` parts for the first
    delivery-status part and the first original message (or original headers) part."""
    status_blocks: list[dict[str, str]] | None = None
    original: Message | None = None
    for i, part in enumerate(msg.walk()):
        if i > MAX_PARTS:
            break
        ctype = part.get_content_type()
        if ctype in _DELIVERY_STATUS_TYPES:
            if status_blocks is None:
                status_blocks = _status_blocks(part)
        elif ctype in _ORIGINAL_MESSAGE_TYPES and original is None and i > 0:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                original = payload[0]
        elif ctype in _ORIGINAL_HEADERS_TYPES and original is None:
            data = part.get_payload(decode=True)
            if isinstance(data, bytes):
                original = BytesHeaderParser(policy=POLICY).parsebytes(data[:MAX_HEADER_BYTES])
    return _ReportParts(status_blocks, original)


def _looks_like_bounce(
    top: Mapping[str, list[str]],
    parts: _ReportParts,
    from_addr: str | None,
    subject: str,
    text: str,
) -> bool:
    """A delivery report (a delivery-status part, or multipart/report of that type), or a
    message with a bounce's sender, subject or text."""
    content_type = (top.get("content-type") or [""])[0].lower()
    report_type = re.search(r"report-type\s*=\s*\"?([a-z-]+)", content_type)
    is_report = parts.status_blocks is not None or (
        content_type.startswith("multipart/report")
        and (report_type is None or report_type.group(1) == "delivery-status")
    )
    return (
        is_report
        or is_bounce_sender(from_addr)
        or BOUNCE_SUBJECT_RE.search(subject) is not None
        or BOUNCE_TEXT_RE.search(text[:MAX_SCANNED_TEXT]) is not None
    )


def _original(quoted: Message | None, text: str) -> _Original:
    """The original message's headers and Message-ID: from the quoted part, else from an
    inline copy in the text, else a Message-ID line anywhere in the text."""
    headers = raw_headers(quoted) if quoted is not None else {}
    original_id = message_id((headers.get("message-id") or [None])[0])
    text_head = text
    copy = _INLINE_COPY_RE.search(text)
    if copy:
        text_head = text[: copy.start()]
        if quoted is None:
            inline = BytesHeaderParser(policy=POLICY).parsebytes(
                text[copy.end() :].lstrip("\n")[:MAX_HEADER_BYTES].encode("utf-8", "replace")
            )
            headers = raw_headers(inline)
            original_id = message_id((headers.get("message-id") or [None])[0])
    if original_id is None:
        m = _TEXT_MESSAGE_ID_RE.search(text)
        original_id = m.group(1) if m else None
    return _Original(headers, original_id, text_head)


def _final_recipient(
    fields: Mapping[str, str], top: Mapping[str, list[str]], text_head: str, *, from_text: bool
) -> str | None:
    """Final-Recipient, else X-Failed-Recipients, else a qmail ``<address>:`` line, else (no
    delivery-status fields) the first address in the bounce's text."""
    final = _recipient_field(fields.get("final-recipient"))
    if final is None:
        failed = top.get("x-failed-recipients")
        if failed:
            m = ADDR_RE.search(failed[0])
            final = m.group(0).lower() if m else None
    if final is None:
        m = _QMAIL_RCPT_RE.search(text_head)
        if m:
            final = m.group(1).lower()
    if final is None and from_text:
        m = ADDR_RE.search(text_head[:5000])
        final = m.group(0).lower() if m else None
    return final


def _status(fields: Mapping[str, str], text_head: str, *, from_text: bool) -> str | None:
    """The enhanced status code of the Status field, else (no delivery-status fields) the first
    one in the bounce's text."""
    status = None
    if fields.get("status"):
        m = _STATUS_RE.search(fields["status"])
        status = ".".join(m.groups()) if m else None
    if status is None and from_text:
        m = _STATUS_RE.search(text_head[:MAX_SCANNED_TEXT])
        status = ".".join(m.groups()) if m else None
    return status


def _diagnostic(fields: Mapping[str, str], text_head: str, *, from_text: bool) -> str | None:
    """Diagnostic-Code without its type prefix, else (no delivery-status fields) the bounce's
    text on one line; at most 1000 characters."""
    diagnostic = fields.get("diagnostic-code")
    if diagnostic:
        return re.sub(r"^\s*[a-z-]+\s*;\s*", "", diagnostic, flags=re.IGNORECASE)[:1000]
    if from_text and text_head.strip():
        return " ".join(text_head.split())[:1000]
    return diagnostic


def _status_blocks(part: Message) -> list[dict[str, str]]:
    """The field blocks of a delivery-status part (the first is per-message)."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload[:MAX_PARTS]:
            if isinstance(block, Message):
                blocks.append({k: v[0] for k, v in raw_headers(block).items()})
        if blocks:
            return blocks
    data = part.get_payload(decode=True)
    if isinstance(payload, str) and not data:
        data = payload.encode("utf-8", "surrogateescape")
    if not isinstance(data, bytes):
        return blocks
    text = decode_bytes(data[:MAX_HEADER_BYTES], "utf-8").replace("\r\n", "\n")
    for chunk in re.split(r"\n\s*\n", text):
        parsed = BytesHeaderParser(policy=POLICY).parsebytes(
            chunk.strip("\n").encode("utf-8", "replace")
        )
        fields = {k: v[0] for k, v in raw_headers(parsed).items()}
        if fields:
            blocks.append(fields)
    return blocks


def _pick_recipient(blocks: Iterable[dict[str, str]]) -> dict[str, str]:
    """The per-recipient block that matters most: failed, then delayed, then any with Action."""
    with_action = [b for b in blocks if "action" in b]
    for wanted in ("failed", "delayed"):
        for block in with_action:
            if block["action"].strip().lower().startswith(wanted):
                return block
    if with_action:
        return with_action[0]
    return {}


def _recipient_field(value: str | None) -> str | None:
    """``rfc822; <User@Example.org>`` -> ``user@example.org``."""
    if not value:
        return None
    value = re.sub(r"^\s*[a-z0-9-]+\s*;\s*", "", value, flags=re.IGNORECASE)
    return clean_address(value)
