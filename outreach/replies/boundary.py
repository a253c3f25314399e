"""A multipart message whose boundary in the header does not match its body. Pure.

Broken MTAs (and hand-edited forwards) declare one boundary and use another; the stdlib parser
then finds no parts at all. :func:`repair_boundary` rewrites the top-level Content-Type with the
boundary the body actually uses, so the parts (a bounce's delivery-status part included) can be
read; when the body has no boundary line either, :func:`~outreach.replies.body.best_text` falls
back to the raw body.
"""

from __future__ import annotations

import re
from email.errors import StartBoundaryNotFoundDefect
from email.message import Message

from outreach.replies.headers import HEADER_END_RE

#: The first delimiter line of a body: ``--boundary`` (not the closing ``--boundary--``).
_DELIMITER_RE = re.compile(rb"(?m)^--([!#-'*+,./0-9=?A-Z^-~]{1,200}?)(?<!--)[ \t]*\r?$")
_TOP_CONTENT_TYPE_RE = re.compile(rb"(?im)^content-type:[^\r\n]*(?:\r?\n[ \t][^\r\n]*)*")
_BOUNDARY_PARAM_RE = re.compile(rb'(?i)boundary\s*=\s*(?:"[^"\r\n]*"|[^;\s]*)')
#: How far into the body a delimiter line is looked for.
SEARCH_BYTES = 64 * 1024


def boundary_lost(msg: Message) -> bool:
    """Whether ``msg`` is multipart but the parser found no part (its boundary is missing)."""
    if msg.get_content_maintype() != "multipart":
        return False
    return not isinstance(msg.get_payload(), list) or any(
        isinstance(d, StartBoundaryNotFoundDefect) for d in msg.defects
    )


def repair_boundary(data: bytes) -> bytes | None:
    """``data`` with its top-level Content-Type boundary replaced by the first delimiter line
    the body uses; ``None`` when the body has none."""
    end = HEADER_END_RE.search(data)
    if end is None:
        return None
    head, body = data[: end.start()], data[end.start() :]
    found = _DELIMITER_RE.search(body[:SEARCH_BYTES])
    header = _TOP_CONTENT_TYPE_RE.search(head)
    if found is None or header is None:
        return None
    boundary = b'boundary="' + found.group(1).replace(b'"', b"") + b'"'
    value = header.group(0)
    if _BOUNDARY_PARAM_RE.search(value):
        fixed = _BOUNDARY_PARAM_RE.sub(lambda _: boundary, value, count=1)
    else:
        fixed = value + b"; " + boundary
    return head[: header.start()] + fixed + head[header.end() :] + body
