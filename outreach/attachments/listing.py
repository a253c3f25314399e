"""The attachments of stored message bytes, read back as a mail client reads them
(``email.policy.default``): for review (name, type, size, SHA-256), for saving them, and for
composing an edited letter again with the very files a reviewer saw. Pure."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import collapse_rfc2231_value

from outreach.compose.attachments import Attachment

_PARSER = BytesParser(policy=email_policy.default)


@dataclass(frozen=True)
class AttachmentInfo:
    """One attachment as review lists it: file name, MIME type, size in bytes, SHA-256."""

    filename: str
    content_type: str
    size: int
    sha256: str


def attachments_in(raw: bytes | None) -> tuple[Attachment, ...]:
    """The attachments of ``raw`` (parts whose disposition is ``attachment``), in order, with
    their name, type, parameters (but ``name``) and decoded bytes; () for none."""
    if not raw or b"multipart/mixed" not in raw.partition(b"\r\n\r\n")[0].lower():
        return ()
    message = _PARSER.parsebytes(raw)
    assert isinstance(message, EmailMessage)
    if not message.is_multipart():
        return ()
    out: list[Attachment] = []
    for part in message.walk():
        if part.get_content_disposition() != "attachment":
            continue
        data = part.get_payload(decode=True)
        params = tuple(
            (str(k), collapse_rfc2231_value(v))
            for k, v in (part.get_params() or [])[1:]
            if k.lower() != "name"
        )
        out.append(
            Attachment(
                filename=part.get_filename() or "attachment",
                content_type=part.get_content_type(),
                data=data if isinstance(data, bytes) else b"",
                params=params,
            )
        )
    return tuple(out)


def describe(attachments: tuple[Attachment, ...]) -> tuple[AttachmentInfo, ...]:
    """Name, type, size and SHA-256 of each attachment."""
    return tuple(
        AttachmentInfo(a.filename, a.content_type, len(a.data), hashlib.sha256(a.data).hexdigest())
        for a in attachments
    )
