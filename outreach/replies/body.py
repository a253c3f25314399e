"""The text of an inbound message: the best text part, decoded and capped. Pure.

The plain-text part is preferred; an HTML-only message is turned into text by the one
:func:`~outreach.htmltext.html_to_text`. Bodies are decoded with the declared charset when it
exists and fits, else UTF-8, else Latin-1, and cut at
:data:`~outreach.replies.limits.MAX_BODY_BYTES` bytes and
:data:`~outreach.replies.limits.MAX_TEXT_CHARS` characters.
"""

from __future__ import annotations

from email.message import EmailMessage, Message

from outreach.htmltext import html_to_text
from outreach.replies.charset import decode_bytes
from outreach.replies.limits import MAX_BODY_BYTES, MAX_PARTS, MAX_TEXT_CHARS


def part_text(part: Message) -> str:
    """The decoded payload of one leaf part with ``\\n`` line ends; ``""`` when it has none."""
    payload = part.get_payload(decode=True)
    if isinstance(payload, str):
        payload = payload.encode("utf-8", "surrogateescape")
    if not isinstance(payload, bytes | bytearray):
        return ""
    data = bytes(payload[:MAX_BODY_BYTES])
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    text = decode_bytes(data, charset)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.encode("utf-8", "replace").decode("utf-8")


def best_text(msg: Message) -> str:
    """The text a person would read: the text/plain body, else the HTML body as text, else the
    first text part, else (a multipart whose parts could not be found) the raw body; ``""``
    when there is none."""
    part = None
    if isinstance(msg, EmailMessage):
        part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        for i, candidate in enumerate(msg.walk()):
            if i > MAX_PARTS:
                break
            if candidate.get_content_maintype() == "text" and not candidate.is_multipart():
                part = candidate
                break
    if part is None:
        if msg.get_content_maintype() == "multipart" and isinstance(msg.get_payload(), str):
            return raw_body_text(msg)
        return ""
    text = part_text(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text, limit=MAX_BODY_BYTES)
    return text[:MAX_TEXT_CHARS]


def raw_body_text(msg: Message) -> str:
    """The undecoded body of ``msg`` as text (for a multipart whose boundary was lost)."""
    payload = msg.get_payload()
    if not isinstance(payload, str):
        return ""
    data = payload[:MAX_BODY_BYTES].encode("utf-8", "surrogateescape")
    text = decode_bytes(data, None).replace("\r\n", "\n").replace("\r", "\n")
    return text.encode("utf-8", "replace").decode("utf-8")[:MAX_TEXT_CHARS]
