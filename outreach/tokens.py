"""Random tokens and the hashes they are stored as (sessions, set-password links, API tokens,
per-message unsubscribe links). No database, no clock."""

from __future__ import annotations

import hashlib
import re
import secrets

#: What a token made by :func:`new_token` looks like (anything else is refused early).
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32,128}")


def new_token() -> str:
    """A new random token: 32 bytes, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """The SHA-256 (hex) a token is stored and looked up as."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def looks_like_token(token: str | None) -> bool:
    """True when ``token`` has the shape of a token :func:`new_token` makes."""
    return bool(TOKEN_SHAPE.fullmatch(token or ""))
