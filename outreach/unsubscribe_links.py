"""Per-message one-click unsubscribe links (RFC 8058): ``PUBLIC_URL/unsubscribe/TOKEN``.

Each planned message gets its own random token; the link is written into its
``List-Unsubscribe`` header when it is composed (so the approved hash covers it) and only the
token's SHA-256 is kept on the message row. Recomposing a message (an edit, a re-render) finds
its token again in its own bytes. Pure: no database, no clock.
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import compat32

from outreach.tokens import TOKEN_SHAPE

#: The path of the unsubscribe route.
PATH = "/unsubscribe/"

_IN_HEADER = re.compile(r"<[^<>\s]*" + re.escape(PATH) + r"(" + TOKEN_SHAPE.pattern + r")>")


def enabled(public_url: str | None) -> bool:
    """True when letters get per-message one-click links: a public URL over https (RFC 8058
    requires an HTTPS URI)."""
    return bool(public_url) and str(public_url).startswith("https://")


def one_click_url(public_url: str, token: str) -> str:
    """The one-click unsubscribe URL of ``token`` under ``public_url``."""
    return public_url.rstrip("/") + PATH + token


def token_in_raw(raw: bytes | None) -> str | None:
    """The unsubscribe token in the ``List-Unsubscribe`` header of the message bytes ``raw``,
    or None."""
    if not raw:
        return None
    head = raw.split(b"\r\n\r\n", 1)[0]
    value = message_from_bytes(head + b"\r\n\r\n", policy=compat32).get("List-Unsubscribe")
    if value is None:
        return None
    found = _IN_HEADER.search(re.sub(r"\s+", "", str(value)))
    return found.group(1) if found else None
