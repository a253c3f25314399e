"""Compose the final RFC 5322 bytes of one outbound message.

Pure: no I/O and no clock (the Date header is the ``date`` we are given). The bytes returned by
:func:`compose` are what a reviewer reads, what approval hashes and what dispatch sends unchanged.

Every user-supplied header value is checked by :mod:`outreach.headersafe` first (this machine's
Python 3.11.7 has CVE-2024-6923, so the email package is not trusted to refuse header
injection). Then the serialised bytes are parsed back and the header set must be exactly the one
we meant to write, with the decoded values we set: anything else raises instead of returning
bytes that could add a header (a ``Bcc:``) or a recipient.

Modules, in the order a message is made: :mod:`.headers` (checking header values, making a
Message-ID), :mod:`.encoding` (writing header lines and body parts), :mod:`.attachments` (the
:class:`Attachment` value and its part: RFC 2231 file names, base64), :mod:`.readback` (the
parse-back guard, attachment parts included), :mod:`.message` (the input and output values and
:func:`compose`).
"""

from __future__ import annotations

from outreach.compose.attachments import Attachment
from outreach.compose.headers import AddressError, make_message_id
from outreach.compose.message import (
    ComposedMessage,
    ComposeInput,
    Envelope,
    compose,
    content_hash,
)

__all__ = [
    "AddressError",
    "Attachment",
    "ComposeInput",
    "ComposedMessage",
    "Envelope",
    "compose",
    "content_hash",
    "make_message_id",
]
