"""What a bounce says about the failed delivery: :class:`DsnInfo` from a parsed message. Pure.

A bounce is read from its ``message/delivery-status`` part (RFC 3464) when it has one
(``machine_readable``); from an Amazon SES JSON notification; else from the shape of bounces
without one (:mod:`~outreach.replies.bounce_markers`: qmail, Exim, old Exchange, Domino,
InterScan, Apache James, fml, Japanese carriers...). Along the way: the SMTP stage the refusal
came at and the text the bounce explains it with (:mod:`~outreach.replies.bounce_text`). The
original Message-ID (quoted in a ``message/rfc822`` or headers part, in the inline copy, or in
the SES notification) is how a bounce finds the letter it answers. A feedback (spam complaint)
report is read the same way, for the address that complained.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser

from outreach.replies.bounce_markers import (
    BOUNCE_LOCALPARTS,
    BOUNCE_SUBJECT_RE,
    BOUNCE_TEXT_RE,
    INLINE_COPY_RE,
    is_bounce_from,
    is_bounce_sender,
    recipient_in_text,
)
from outreach.replies.bounce_text import Wording, find_stage, read_wording, reply_status
from outreach.replies.charset import decode_bytes
from outreach.replies.evidence import SmtpStage
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
from outreach.replies.ses import SesNotice, looks_like_ses, read_ses
from outreach.replies.snippet import strip_quoted

__all__ = [
    "BOUNCE_LOCALPARTS",
    "BOUNCE_SUBJECT_RE",
    "BOUNCE_TEXT_RE",
    "ORIGINAL_KEPT_HEADERS",
    "DsnInfo",
    "is_bounce_sender",
    "read_dsn",
]

_TEXT_MESSAGE_ID_RE = re.compile(r"(?im)^[ \t]*message-id:\s*(<[^<>\s]{1,998}>)")
_DELIVERY_STATUS_TYPES = ("message/delivery-status", "message/global-delivery-status")
_ORIGINAL_MESSAGE_TYPES = ("message/rfc822", "message/global")
_ORIGINAL_HEADERS_TYPES = ("text/rfc822-headers", "message/global-headers")
_REPORT_TYPE_RE = re.compile(r"report-type\s*=\s*\"?([a-z-]+)")
_SES_SENDER_RE = re.compile(r"amazonaws\.com|amazonses", re.IGNORECASE)
#: Headers of the original message kept in :attr:`DsnInfo.original_headers`.
ORIGINAL_KEPT_HEADERS = ("message-id", "subject", "to", "from", "date", "in-reply-to")
#: Report types read by :func:`read_dsn`.
DELIVERY_STATUS = "delivery-status"
FEEDBACK_REPORT = "feedback-report"


@dataclass(frozen=True)
class DsnInfo:
    """What a bounce says about the failed delivery.

    Built from a ``message/delivery-status`` part when there is one (``machine_readable``), an
    SES notification (``ses``), else read from the shape of a bounce without one. Addresses are
    lowercase addr-specs; ``status`` is the enhanced status code of the ``Status:`` field (or,
    without one, the one the text gives) such as ``"5.1.1"``; ``diagnostic`` is the remote's
    reply (``Diagnostic-Code`` without its type, which is ``diagnostic_type``) or, without one,
    the bounce's text on one line. ``explanation`` is the bounce's own text before any copy of
    the original. ``stage`` is where the refusal came, when the bounce says.
    ``original_message_id`` keeps its angle brackets. ``detected_by`` says what made it a
    bounce; ``report_type`` is ``feedback-report`` for a spam complaint report.
    ``names_sender``: the diagnostic names our own sender address and not the recipient (a
    refusal of the sender, whatever its status says).
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
    diagnostic_type: str | None = None
    stage: SmtpStage | None = None
    explanation: str = field(default="", repr=False)
    detected_by: str = ""
    report_type: str = DELIVERY_STATUS
    ses: SesNotice | None = None
    names_sender: bool = False


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
    """The :class:`DsnInfo` of ``msg`` when it is a delivery or feedback report or is shaped
    like a bounce, else ``None``. ``top`` are its decoded top-level headers, ``text`` its best
    text. May raise on a pathological tree (the caller records a defect)."""
    parts = _report_parts(msg)
    report_type = _report_type(top)
    if report_type == FEEDBACK_REPORT:
        return _feedback(parts, text)
    ses = _ses_notice(top, subject, text)
    if ses is not None:
        return _from_ses(ses)
    detected_by = _bounce_marker(top, parts, from_addr, subject, text, report_type)
    if detected_by is None:
        return None
    blocks = parts.status_blocks
    fields = _pick_recipient(blocks or [])
    original = _original(parts.original, text)
    from_text = not blocks  # no machine-readable fields: read the text of the bounce
    ours = _our_addresses(top, original.headers)
    final = _final_recipient(fields, top, original, ours, from_text=from_text)
    diagnostic = _diagnostic(fields, original.text_head, from_text=from_text)
    explanation = original.text_head[:MAX_SCANNED_TEXT]
    return DsnInfo(
        action=(fields.get("action") or "").strip().lower().split(" ")[0] or None,
        status=_status(fields, original.text_head, from_text=from_text),
        final_recipient=final,
        original_recipient=_recipient_field(fields.get("original-recipient")),
        diagnostic=diagnostic,
        remote_mta=(one_line(fields["remote-mta"])[:300] if fields.get("remote-mta") else None),
        original_message_id=original.message_id,
        original_headers=kept_headers(original.headers, ORIGINAL_KEPT_HEADERS),
        machine_readable=blocks is not None,
        diagnostic_type=_diagnostic_type(fields.get("diagnostic-code")),
        stage=find_stage(f"{explanation}\n{diagnostic or ''}", near=final),
        explanation=explanation,
        detected_by=detected_by,
        names_sender=blocks is not None and _names_sender(diagnostic, final, ours),
    )


def _report_type(top: Mapping[str, list[str]]) -> str | None:
    """The ``report-type`` of a ``multipart/report`` (``delivery-status`` when it has none),
    else ``None``."""
    content_type = (top.get("content-type") or [""])[0].lower()
    if not content_type.startswith("multipart/report"):
        if top.get("feedback-type"):
            return FEEDBACK_REPORT
        return None
    m = _REPORT_TYPE_RE.search(content_type)
    return m.group(1) if m else DELIVERY_STATUS


def _bounce_marker(
    top: Mapping[str, list[str]],
    parts: _ReportParts,
    from_addr: str | None,
    subject: str,
    text: str,
    report_type: str | None,
) -> str | None:
    """What makes this a bounce: a delivery-status part or report, a bounce sender, subject
    or sentence; ``None`` when nothing does."""
    if parts.status_blocks is not None:
        return "delivery-status part"
    if report_type == DELIVERY_STATUS:
        return "multipart/report"
    if BOUNCE_SUBJECT_RE.search(subject) is not None:
        return f"subject {subject[:80]!r}"
    if _is_fml_notice(top):
        return "fml mailing-list notice"
    is_reply = bool(top.get("in-reply-to") or top.get("references"))
    own_words = strip_quoted(text[:MAX_SCANNED_TEXT]) if is_reply else text[:MAX_SCANNED_TEXT]
    m = BOUNCE_TEXT_RE.search(own_words)  # a person may quote or forward a bounce
    if m is not None:
        return f"text {one_line(m.group(0))[:80]!r}"
    if is_bounce_from(top.get("from"), from_addr):
        # a person writing from a postmaster mailbox, in reply, with no failure in their words
        if is_reply and read_wording(own_words).wording == Wording.NONE:
            return None
        return "sender " + ((top.get("from") or [""])[0][:80] or "MAILER-DAEMON")
    return None


def _is_fml_notice(top: Mapping[str, list[str]]) -> bool:
    """An fml mailing-list server's error notice (X-MLServer: fml, from the list's admin)."""
    server = (top.get("x-mlserver") or [""])[0].lower()
    sender = (top.get("from") or [""])[0].lower()
    return server.startswith("fml") and "-admin@" in sender


def _ses_notice(top: Mapping[str, list[str]], subject: str, text: str) -> SesNotice | None:
    """The Amazon SES notification this message carries, if it is one."""
    sender = (top.get("from") or [""])[0]
    if not (_SES_SENDER_RE.search(sender) or "aws notification" in subject.lower()):
        return None
    if not looks_like_ses(text):
        return None
    return read_ses(text)


def _from_ses(ses: SesNotice) -> DsnInfo:
    diagnostic = ses.diagnostic
    if diagnostic:
        diagnostic = re.sub(r"^\s*[a-z-]+\s*;\s*", "", diagnostic, flags=re.IGNORECASE)
    return DsnInfo(
        action=(ses.action or "").lower() or None,
        status=reply_status(ses.status),
        final_recipient=ses.recipient,
        diagnostic=diagnostic,
        remote_mta=ses.reporting_mta,
        original_message_id=ses.original_message_id,
        machine_readable=True,
        diagnostic_type="smtp" if diagnostic else None,
        stage=find_stage(diagnostic),
        detected_by=f"Amazon SES {ses.kind} notification",
        ses=ses,
    )


def _feedback(parts: _ReportParts, text: str) -> DsnInfo:
    """A feedback (spam complaint) report: the complainer is the original's recipient."""
    original = _original(parts.original, text)
    to = (original.headers.get("to") or [""])[0]
    m = ADDR_RE.search(to)
    return DsnInfo(
        final_recipient=m.group(0).lower() if m else None,
        original_message_id=original.message_id,
        original_headers=kept_headers(original.headers, ORIGINAL_KEPT_HEADERS),
        machine_readable=True,
        detected_by="feedback report",
        report_type=FEEDBACK_REPORT,
    )


def _names_sender(diagnostic: str | None, final: str | None, ours: frozenset[str]) -> bool:
    """Whether ``diagnostic`` names one of ``ours`` and not the failed recipient ``final``."""
    if not diagnostic or not ours:
        return False
    lowered = diagnostic.lower()
    if final and final in lowered:
        return False
    return any(address in lowered for address in ours)


def _our_addresses(
    top: Mapping[str, list[str]], original_headers: Mapping[str, list[str]]
) -> frozenset[str]:
    """Addresses that are ours, never the failed recipient: whom the bounce is addressed to,
    and the original's sender."""
    found = set()
    for value in [*top.get("to", ())[:5], *original_headers.get("from", ())[:2]]:
        found.update(m.group(0).lower() for m in ADDR_RE.finditer(value[:2000]))
    return frozenset(found)


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


def _original(quoted: Message | None, text: str) -> _Original:
    """The original message's headers and Message-ID: from the quoted part, else from an
    inline copy in the text, else a Message-ID line anywhere in the text."""
    headers = raw_headers(quoted) if quoted is not None else {}
    original_id = message_id((headers.get("message-id") or [None])[0])
    text_head = text
    copy = INLINE_COPY_RE.search(text)
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
    fields: Mapping[str, str],
    top: Mapping[str, list[str]],
    original: _Original,
    ours: frozenset[str],
    *,
    from_text: bool,
) -> str | None:
    """Final-Recipient, else X-Failed-Recipients, else (no delivery-status fields) the
    recipient the bounce's text names (not one of ``ours``), else the original's To."""
    final = _recipient_field(fields.get("final-recipient"))
    if final is None:
        failed = top.get("x-failed-recipients")
        if failed:
            m = ADDR_RE.search(failed[0])
            final = m.group(0).lower() if m else None
    if final is None and from_text:
        final = recipient_in_text(original.text_head, ours)
    if final is None:
        m = ADDR_RE.search((original.headers.get("to") or [""])[0][:2000])
        final = m.group(0).lower() if m else None
    return final


def _status(fields: Mapping[str, str], text_head: str, *, from_text: bool) -> str | None:
    """The enhanced status code of the Status field, else (no delivery-status fields) the one
    the bounce's text gives (the remote's own, when a relay wraps it)."""
    if fields.get("status"):
        status = reply_status(fields["status"])
        if status is not None:
            return status
    if from_text:
        return reply_status(text_head)
    return None


def _diagnostic_type(value: str | None) -> str | None:
    """The type of a Diagnostic-Code (``smtp``, ``x-postfix``...), lowercase."""
    if not value:
        return None
    m = re.match(r"\s*([a-z][a-z0-9-]{0,30})\s*;", value, flags=re.IGNORECASE)
    return m.group(1).lower() if m else None


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
