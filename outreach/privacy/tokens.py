"""What an erased address leaves behind: a keyed hash in the suppression list, and the check
that finds addresses among those hashes (pure: the key is a parameter).

A token reads ``erased:<key id>:<HMAC-SHA256 of the normalised address, hex>``. The key id
(8 hex digits, itself an HMAC of a fixed text) names the key without revealing it, so that a
daemon holding another key fails loudly instead of letting an erased person through.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from outreach.errors import ErasureKeyError

#: How every erasure token begins (the suppression list's ``email`` column holds it).
TOKEN_PREFIX = "erased:"
#: The reason recorded on an erasure token's suppression row.
ERASED_REASON = "erased"
_KEY_ID_TEXT = b"outreach erasure key id"


def key_id(key: bytes) -> str:
    """The public name of ``key``: 8 hex digits that identify it and reveal nothing of it."""
    return hmac.new(key, _KEY_ID_TEXT, hashlib.sha256).hexdigest()[:8]


def erasure_token(key: bytes, email: str) -> str:
    """The token an erased ``email`` (already normalised) leaves in the suppression list."""
    digest = hmac.digest(key, email.encode("utf-8"), "sha256").hex()
    return f"{TOKEN_PREFIX}{key_id(key)}:{digest}"


def is_token(value: str) -> bool:
    """True when ``value`` (a suppression list entry) is an erasure token, not an address."""
    return value.startswith(TOKEN_PREFIX)


def token_key_id(token: str) -> str:
    """The id of the key ``token`` was made with."""
    return token[len(TOKEN_PREFIX) :].split(":", 1)[0]


@dataclass(frozen=True)
class ErasureCheck:
    """Which addresses were erased: the tokens on record and the key they were made with.

    Built with :func:`erasure_check`, which refuses a missing or different key when there are
    tokens to check against.
    """

    key: bytes | None
    tokens: frozenset[str]

    def erased(self, emails: Iterable[str]) -> set[str]:
        """The addresses among ``emails`` (normalised) that were erased."""
        if not self.tokens or self.key is None:
            return set()
        prefix = f"{TOKEN_PREFIX}{key_id(self.key)}:"
        key = self.key
        return {
            email
            for email in emails
            if prefix + hmac.digest(key, email.encode("utf-8"), "sha256").hex() in self.tokens
        }


def erasure_check(key: bytes | None, tokens: Iterable[str], *, key_source: str) -> ErasureCheck:
    """An :class:`ErasureCheck` over ``tokens``; raises :class:`ErasureKeyError` (naming
    ``key_source``, where the key should come from) when there are tokens but no key, or tokens
    made with another key."""
    tokens = frozenset(tokens)
    if not tokens:
        return ErasureCheck(key, tokens)
    if key is None:
        raise ErasureKeyError(
            f"{len(tokens)} erased address(es) are on record but there is no erasure key "
            f"({key_source}): imports and planning cannot check them; restore the key"
        )
    mine = key_id(key)
    others = sorted({token_key_id(t) for t in tokens} - {mine})
    if others:
        raise ErasureKeyError(
            f"erasures on record were made with key id {', '.join(others)}, but this key's id is "
            f"{mine} ({key_source}): use the key they were made with, the same on every host"
        )
    return ErasureCheck(key, tokens)
