"""Amazon SES notifications delivered by mail as JSON (through SNS). Pure.

SES reports bounces, complaints and deliveries as a JSON document, either bare or wrapped in an
SNS envelope whose ``Message`` field holds the notification as a JSON string. :func:`read_ses`
turns one into a :class:`SesNotice`: the kind (``bounce``, ``complaint``, ``delivery``), the
bounce type and subtype, the first recipient with its status and diagnostic, and the original
Message-ID (from ``mail.commonHeaders`` or ``mail.headers``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Longest text tried as JSON.
MAX_JSON_CHARS = 200_000


@dataclass(frozen=True)
class SesNotice:
    """One SES notification as the classifier reads it (see the module docstring)."""

    kind: str
    bounce_type: str | None = None
    bounce_subtype: str | None = None
    recipient: str | None = None
    action: str | None = None
    status: str | None = None
    diagnostic: str | None = None
    reporting_mta: str | None = None
    original_message_id: str | None = None


def looks_like_ses(text: str) -> bool:
    """Cheap test before any JSON parsing: the text carries a ``notificationType`` field."""
    return "notificationType" in text[:MAX_JSON_CHARS]


def read_ses(text: str) -> SesNotice | None:
    """The SES notification in ``text`` (bare, or in an SNS envelope; the SNS unsubscribe
    footer ignored), or ``None`` when it is not one. Never raises."""
    try:
        doc = _document(text)
        if doc is None:
            return None
        return _notice(doc)
    except (ValueError, TypeError, RecursionError, AttributeError):
        return None


def _document(text: str) -> dict[str, Any] | None:
    start, end = text.find("{"), text.rfind("}")
    if start == -1 or end <= start or end - start > MAX_JSON_CHARS:
        return None
    doc = json.loads(text[start : end + 1])
    if isinstance(doc, dict) and isinstance(doc.get("Message"), str):
        doc = json.loads(doc["Message"])
    if not isinstance(doc, dict) or not isinstance(doc.get("notificationType"), str):
        return None
    return doc


def _notice(doc: dict[str, Any]) -> SesNotice:
    kind = doc["notificationType"].strip().lower()
    mail = doc.get("mail") if isinstance(doc.get("mail"), dict) else {}
    original = _original_message_id(mail)
    details: dict[str, str | None]
    if kind == "bounce":
        bounce, first = _section(doc, "bounce", "bouncedRecipients")
        recipient = first.get("emailAddress")
        details = {
            "bounce_type": _text(bounce.get("bounceType")),
            "bounce_subtype": _text(bounce.get("bounceSubType")),
            "action": _text(first.get("action")),
            "status": _text(first.get("status")),
            "diagnostic": _text(first.get("diagnosticCode")),
            "reporting_mta": _text(bounce.get("reportingMTA")),
        }
    elif kind == "complaint":
        complaint, first = _section(doc, "complaint", "complainedRecipients")
        recipient = first.get("emailAddress")
        details = {"diagnostic": _text(complaint.get("complaintFeedbackType"))}
    else:
        delivery = _dict(doc.get("delivery"))
        recipients = delivery.get("recipients")
        recipient = recipients[0] if isinstance(recipients, list) and recipients else None
        details = {"diagnostic": _text(delivery.get("smtpResponse"))}
    return SesNotice(
        kind=kind, recipient=_address(recipient), original_message_id=original, **details
    )


def _original_message_id(mail: dict[str, Any]) -> str | None:
    common = _dict(mail.get("commonHeaders"))
    value = _text(common.get("messageId"))
    headers = mail.get("headers")
    if value is None and isinstance(headers, list):
        for header in headers[:200]:
            if isinstance(header, dict) and str(header.get("name", "")).lower() == "message-id":
                value = _text(header.get("value"))
                break
    if value is None:
        return None
    value = value.strip()
    if not value or " " in value or len(value) > 998:
        return None
    return value if value.startswith("<") else f"<{value.strip('<>')}>"


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _section(
    doc: dict[str, Any], name: str, recipients: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The notification's section ``name`` (``bounce``, ``complaint``) and the first entry of
    its list ``recipients`` (empty when either is missing or not what SES writes)."""
    section = _dict(doc.get(name))
    listed = section.get(recipients)
    if isinstance(listed, list) and listed and isinstance(listed[0], dict):
        return section, listed[0]
    return section, {}


def _text(value: object) -> str | None:
    if isinstance(value, str) and value.strip():
        return " ".join(value.split())[:1000]
    return None


def _address(value: object) -> str | None:
    text = _text(value)
    if text is None or "@" not in text:
        return None
    return text.strip("<> ").lower()[:320]
