"""Bytes to text when the declared charset may be missing, unknown or a lie. Pure."""

from __future__ import annotations

import codecs


def decode_bytes(data: bytes, charset: str | None) -> str:
    """Decode with ``charset`` when it is a real text codec that fits, else UTF-8, else Latin-1.

    Never raises: Latin-1 decodes any byte string.
    """
    candidates = []
    if charset:
        name = charset.strip().strip('"').lower()
        try:
            if codecs.lookup(name)._is_text_encoding and name not in ("unicode_escape",):
                candidates.append(name)
        except (LookupError, ValueError, TypeError):
            pass
    candidates.append("utf-8")
    for name in candidates:
        try:
            return data.decode(name)
        except Exception:
            continue
    return data.decode("latin-1")
