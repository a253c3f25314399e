"""Passwords and form secrets: argon2id password hashes (argon2-cffi's RFC 9106 low-memory
profile), the CSRF token of a session, constant-time comparison. No database, no clock.
Random tokens are in :mod:`outreach.tokens`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

from outreach.errors import AccountError

#: The shortest and longest password accepted.
MIN_PASSWORD = 10
MAX_PASSWORD = 1000

_HASHER = PasswordHasher(type=Type.ID)


def check_password(password: str) -> str:
    """``password`` when it is acceptable (10 to 1000 characters, not only spaces), else
    :class:`AccountError`."""
    if len(password or "") < MIN_PASSWORD or not password.strip():
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    """The argon2id hash of ``password`` (salted; a new hash each call)."""
    return _HASHER.hash(password)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _HASHER.hash(secrets.token_urlsafe(16))


def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches the argon2 hash ``stored``. Without a hash it still does
    the work of one verification (an unknown account takes as long as a wrong password)."""
    try:
        return _HASHER.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(stored)
    except InvalidHashError:
        return True


def csrf_for(session_token: str) -> str:
    """The CSRF token of the forms of one session: derived from the session's secret, so only
    a page rendered for that session can carry it."""
    return hashlib.sha256(b"outreach-csrf:" + session_token.encode("utf-8")).hexdigest()


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted secret with the expected one."""
    return bool(given) and hmac.compare_digest(str(given), expected)
