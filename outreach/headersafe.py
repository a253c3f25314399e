"""Header-injection guards for any user-supplied text that may end up in a header.

Our own check, on purpose: Python 3.11.7 predates the fix for CVE-2024-6923 (the email package
could fold an encoded word such as ``=?UTF-8?Q?=0A?=`` or a trailing newline into a new header
line), so we never rely on the email package to refuse such text. Pure functions.
"""

from __future__ import annotations

import re
import unicodedata

from outreach.errors import HeaderInjectionError

#: RFC 2047 encoded-word syntax: ``=?charset?Q|B?text?=``. Refused in any header text we are
#: handed, so nothing can smuggle CR/LF through a decoder.
ENCODED_WORD = re.compile(r"=\?[^?\s]*\?[A-Za-z]\?[^?]*\?=")


def header_problem(value: str) -> str | None:
    """Why ``value`` is unsafe in a header, or ``None`` when it is safe.

    Refuses CR, LF and every other control character (Unicode category Cc, tab included), the
    Unicode line and paragraph separators U+2028/U+2029 and other line-breaking characters
    (U+0085, U+000B, U+000C), and RFC 2047 encoded-word syntax.
    """
    for ch in value:
        if ch in "\u2028\u2029\x85":
            return f"contains a line separator (U+{ord(ch):04X})"
        category = unicodedata.category(ch)
        if category == "Cc":
            if ch in "\r\n":
                return "contains a line break"
            return f"contains a control character (U+{ord(ch):04X})"
        if category in ("Zl", "Zp"):
            return f"contains a line separator (U+{ord(ch):04X})"
    if ENCODED_WORD.search(value):
        return "contains RFC 2047 encoded-word syntax (=?...?=)"
    return None


def check_header_text(value: str, *, field: str) -> str:
    """Return ``value`` unchanged when it is safe header text, else raise
    :class:`HeaderInjectionError` naming ``field`` and the problem."""
    problem = header_problem(value)
    if problem is not None:
        raise HeaderInjectionError(f"{field}: {problem}")
    return value
