"""The cheap first pass of :func:`~outreach.replies.parse.parse_inbound`: the header block,
and the whole message when it is one plain text part. Pure.

Most replies are one ``text/plain`` (or ``text/html``) part. For those the full parse with
``policy.default`` (its header registry parses every structured header again on each access)
finds nothing the header block and the raw body do not already say. So the guarded bytes are
first read with the stdlib parser in ``compat32``, headers only (:func:`read_head`); the same
feed parser splits the header block, so the raw header values are exactly the ones the full
parse gives. When the header block shows a single plain text part (:func:`is_plain_text`:
Content-Type absent or one simple ``text/plain``/``text/html`` with plain parameters, at most one
plain Content-Transfer-Encoding, no Content-Disposition), the rest of the bytes is that part's
payload, exactly as the full parse stores it, and it is decoded by the same stdlib code. Any
other message — multipart, ``message/*``, attachments, unusual Content-Type or transfer
encoding — gets the full parse. ``tests/unit/test_replies_parse_plain.py`` checks that both
paths give the same :class:`~outreach.replies.parse.ParsedInbound` on the corpus and on
generated variants.
"""

from __future__ import annotations

import re
from email import policy
from email.message import Message
from email.parser import BytesParser

#: One simple Content-Type of a single text part: the media type and plain parameters only
#: (no comments, no RFC 2231 values, no encoded words), folded or not.
_PLAIN_CONTENT_TYPE_RE = re.compile(
    r"text/(?:plain|html)"
    r"(?:[ \t]*(?:\r?\n[ \t]+)?;[ \t]*(?:\r?\n[ \t]+)?"
    r"(?:charset|format|delsp|reply-type)="
    r'(?:"[A-Za-z0-9._:+-]{1,64}"|[A-Za-z0-9._:+-]{1,64}))*'
    r"[ \t]*;?",
    re.IGNORECASE | re.ASCII,
)
#: The transfer encodings whose decoding the stdlib does the same way under any policy.
_PLAIN_TRANSFER_ENCODING_RE = re.compile(
    r"7bit|8bit|binary|quoted-printable|base64", re.IGNORECASE | re.ASCII
)
_HEAD_PARSER = BytesParser(policy=policy.compat32)


def read_head(data: bytes) -> Message:
    """``data`` parsed headers-only (``compat32``): the raw header values, and the rest of the
    bytes as the payload. Raises only what the stdlib parser raises."""
    return _HEAD_PARSER.parsebytes(data, headersonly=True)


def is_plain_text(head: Message) -> bool:
    """Whether ``head`` (from :func:`read_head`) is a whole message of one plain text part:
    the full parse would find no other part, and reads its body exactly as ``head`` holds it."""
    content_type: list[str] = []
    encoding: list[str] = []
    for name, value in head.raw_items():
        lowered = name.lower()
        if lowered == "content-type":
            content_type.append(value)
        elif lowered == "content-transfer-encoding":
            encoding.append(value)
        elif lowered == "content-disposition":
            return False
    if len(content_type) > 1 or len(encoding) > 1:
        return False
    if content_type and not _PLAIN_CONTENT_TYPE_RE.fullmatch(content_type[0]):
        return False
    if encoding and not _PLAIN_TRANSFER_ENCODING_RE.fullmatch(encoding[0]):
        return False
    return isinstance(head.get_payload(), str)
