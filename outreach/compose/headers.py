"""Header values checked before anything is written: addresses, display names, URLs,
Message-IDs and extra headers (and making a Message-ID).

Every user-supplied value goes through :func:`check_value` (:mod:`outreach.headersafe`): this
machine's Python 3.11.7 has CVE-2024-6923, so the email package is not trusted to refuse header
injection.
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

from outreach.errors import ComposeError, HeaderInjectionError
from outreach.headersafe import header_problem

ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
_DOT_ATOM = rf"{ATEXT}+(?:\.{ATEXT}+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*"
#: One plain ASCII addr-spec: dot-atom local part, host-name domain. No quoted local parts, no
#: comments, no display names, no domain literals, no second address.
ADDR_SPEC = re.compile(rf"{_DOT_ATOM}@{_DOMAIN}")
_MESSAGE_ID = re.compile(rf"<{_DOT_ATOM}@{_DOMAIN}>")
_UNIQUE = re.compile(_DOT_ATOM)
_DOMAIN_RE = re.compile(_DOMAIN)
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_URL_FORBIDDEN = re.compile(r"[\s<>,\"'\\^`{|}]")

_MAX_URL = 900
_MAX_MESSAGE_ID = 250
MAX_HEADER_VALUE = 900

#: Header names that only compose() writes; extra_headers may not use them.
_RESERVED = frozenset(
    {
        "from",
        "to",
        "cc",
        "bcc",
        "sender",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "return-path",
        "received",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "dkim-signature",
    }
)


class AddressError(ComposeError):
    """An email address is invalid."""


def check_value(value: str, field: str) -> None:
    """Raise :class:`HeaderInjectionError` (naming ``field``) when ``value`` carries line
    breaks, control characters, Unicode line separators or RFC 2047 syntax."""
    if value.isprintable() and "=?" not in value:
        return  # fast path: no control, separator or format character, no encoded word
    problem = header_problem(value)
    if problem is not None:
        raise HeaderInjectionError(f"{field}: {problem}")


def check_address(value: str, field: str) -> str:
    """``value`` when it is one plain ``dot-atom@host`` address, else :class:`AddressError`."""
    check_value(value, field)
    if len(value) > 254 or not ADDR_SPEC.fullmatch(value) or len(value.split("@")[0]) > 64:
        raise AddressError(f"{field}: not a single valid email address: {value!r}")
    return value


def check_name(value: str | None, field: str) -> str:
    """A display name with each run of whitespace (NBSP and other Unicode spaces included)
    made one plain space, and stripped: readers collapse such runs anyway (even inside
    encoded words), so this is what the recipient sees, and we can verify it exactly."""
    if value is None:
        return ""
    check_value(value, field)
    return " ".join(value.split())


def check_url(value: str, field: str) -> str:
    """``value`` when it is a usable https URL (ASCII, a host, nothing a header could split
    on), else :class:`ComposeError`."""
    check_value(value, field)
    if len(value) > _MAX_URL or not value.isascii() or _URL_FORBIDDEN.search(value):
        raise ComposeError(f"{field}: not a usable https URL (ASCII, no spaces, <, >, or commas)")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise ComposeError(f"{field}: not a valid URL: {exc}") from None
    if parts.scheme != "https" or not parts.hostname:
        raise ComposeError(f"{field}: must be an https:// URL with a host")
    return value


def check_message_id(value: str, field: str = "message_id") -> str:
    """``value`` when it looks like ``<unique@domain>``, else :class:`ComposeError`."""
    check_value(value, field)
    if len(value) > _MAX_MESSAGE_ID or not _MESSAGE_ID.fullmatch(value):
        raise ComposeError(f"{field}: must look like <unique@domain>: {value!r}")
    return value


def check_extra(name: str, value: str, seen: set[str]) -> str:
    """The stripped value of extra header ``name``, refused when the name is invalid, reserved
    for compose() itself or already in ``seen`` (lower-cased names; ``name`` is added)."""
    field = f"extra header {name!r}"
    check_value(name, "extra header name")
    if not _HEADER_NAME.fullmatch(name) or len(name) > 76:
        raise ComposeError(f"{field}: not a valid header name")
    lower = name.lower()
    if lower in _RESERVED or lower.startswith(("content-", "resent-")):
        raise ComposeError(f"{field}: reserved; compose() writes that header itself")
    if lower in seen:
        raise ComposeError(f"{field}: given twice")
    seen.add(lower)
    check_value(value, field)
    value = value.strip()
    if not value or len(value) > MAX_HEADER_VALUE:
        raise ComposeError(f"{field}: value empty or longer than {MAX_HEADER_VALUE} characters")
    return value


def make_message_id(*, domain: str, unique: str | None = None) -> str:
    """Return ``<unique@domain>``; ``unique`` defaults to 128 random bits in hex.

    Not deterministic when ``unique`` is omitted (that is the point). Raises ComposeError
    for a domain or unique part that could not appear in a Message-ID.
    """
    if not _DOMAIN_RE.fullmatch(domain):
        raise ComposeError(f"message-id domain: not a host name: {domain!r}")
    if unique is None:
        unique = secrets.token_hex(16)
    elif not _UNIQUE.fullmatch(unique):
        raise ComposeError(f"message-id unique part: not dot-atom text: {unique!r}")
    return check_message_id(f"<{unique}@{domain}>", "message_id")
