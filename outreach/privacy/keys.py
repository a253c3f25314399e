"""The erasure key: ``OUTREACH_ERASURE_KEY``, else the key file (``OUTREACH_ERASURE_KEY_FILE``,
default ``erasure.key`` in the working directory).

The key turns an erased address into a token (:mod:`outreach.privacy.tokens`) that only a
holder of the key can test an address against: someone with a copy of the database alone
cannot confirm a guessed address. Keep it apart from the database and its backups, and the
same on every host. When neither is set, the first erasure writes a new random key to the key
file (mode 0600, never overwriting one) and says so; a key file readable by other users is
refused.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from outreach.db import Session
from outreach.errors import ErasureKeyError
from outreach.privacy.tokens import ErasureCheck, erasure_check
from outreach.repository.erasure import erased_tokens
from outreach.settings import Settings


def key_source(settings: Settings) -> str:
    """Where the key comes from, in words (for messages)."""
    if settings.erasure_key is not None:
        return "OUTREACH_ERASURE_KEY"
    return f"key file {settings.erasure_key_file}"


def read_key(settings: Settings) -> bytes | None:
    """The erasure key, or None when it is neither set nor in its file."""
    if settings.erasure_key is not None:
        return settings.erasure_key.get_secret_value().strip().encode("utf-8")
    path = Path(settings.erasure_key_file)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ErasureKeyError(
            f"{path}: other users may read the erasure key (mode {stat.S_IMODE(mode):04o}); "
            f"run chmod 600 {path}"
        )
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < 32:
        raise ErasureKeyError(f"{path}: an erasure key has at least 32 characters")
    return text.encode("utf-8")


def ensure_key(settings: Settings) -> tuple[bytes, Path | None]:
    """The erasure key, and the key file when this call created it (None otherwise)."""
    key = read_key(settings)
    if key is not None:
        return key, None
    path = Path(settings.erasure_key_file)
    text = secrets.token_hex(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it meanwhile
        key = read_key(settings)
        assert key is not None
        return key, None
    except OSError as exc:
        raise ErasureKeyError(
            f"cannot create the erasure key file {path}: {exc.strerror}; set "
            "OUTREACH_ERASURE_KEY_FILE to a writable place or OUTREACH_ERASURE_KEY"
        ) from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text + "\n")
    return text.encode("utf-8"), path


def current_check(session: Session, settings: Settings) -> ErasureCheck:
    """The erasures on record and the key to test addresses with; raises
    :class:`ErasureKeyError` when there are erasures but the key is missing or another one."""
    tokens = erased_tokens(session)
    key = read_key(settings) if tokens else None
    return erasure_check(key, tokens, key_source=key_source(settings))
