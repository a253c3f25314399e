"""Sign-in throttling, session lifetimes, passwords and tokens (pure: no database)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from outreach.accounts.credentials import (
    check_password,
    csrf_for,
    hash_password,
    same_secret,
    verify_password,
)
from outreach.accounts.policy import SessionPolicy, ThrottlePolicy
from outreach.errors import AccountError
from outreach.tokens import looks_like_token, new_token, token_hash

NOW = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)


def test_throttle_counts_per_account_and_per_address() -> None:
    policy = ThrottlePolicy(window=timedelta(minutes=15), per_account=5, per_address=20)
    assert policy.since(NOW) == NOW - timedelta(minutes=15)
    assert not policy.refuses(4, 19)
    assert policy.refuses(5, 0)
    assert policy.refuses(0, 20)


def test_sessions_end_when_idle_expired_or_revoked() -> None:
    policy = SessionPolicy(idle=timedelta(hours=1), absolute=timedelta(hours=12))
    expires = policy.expires_at(NOW)
    assert expires == NOW + timedelta(hours=12)

    def live(now: datetime, seen: datetime, revoked: datetime | None = None) -> bool:
        return policy.is_live(last_seen_at=seen, expires_at=expires, revoked_at=revoked, now=now)

    assert live(NOW + timedelta(minutes=59), NOW)
    assert not live(NOW + timedelta(hours=1), NOW)
    assert live(NOW + timedelta(hours=11, minutes=30), NOW + timedelta(hours=11))
    assert not live(NOW + timedelta(hours=12), NOW + timedelta(hours=11, minutes=59))
    assert not live(NOW + timedelta(minutes=1), NOW, revoked=NOW)


def test_passwords_are_argon2id_and_checked() -> None:
    hashed = hash_password("a long enough password")
    assert hashed.startswith("$argon2id$")
    assert verify_password(hashed, "a long enough password")
    assert not verify_password(hashed, "a wrong password")
    assert not verify_password(None, "a long enough password")  # no account: still works
    assert not verify_password("not a hash", "x")
    assert check_password("ten chars!") == "ten chars!"
    for bad in ("short", " " * 12, "x" * 1001):
        with pytest.raises(AccountError):
            check_password(bad)


def test_tokens_are_random_and_stored_as_hashes() -> None:
    a, b = new_token(), new_token()
    assert a != b and looks_like_token(a) and len(a) == 43
    assert token_hash(a) != a and len(token_hash(a)) == 64
    assert not looks_like_token("short") and not looks_like_token("a" * 40 + "/")
    assert not looks_like_token(None)
    assert csrf_for(a) != csrf_for(b) and csrf_for(a) == csrf_for(a)
    assert same_secret(csrf_for(a), csrf_for(a))
    assert not same_secret("", csrf_for(a)) and not same_secret(None, csrf_for(a))
