"""Signing in and staying signed in: password checks under throttling, server-side sessions,
and API tokens, each turned into the :class:`SignedIn` account a request acts as.

The same refusal (:data:`REFUSED`) answers an unknown account, a disabled one and a wrong
password; a throttled attempt gets :data:`THROTTLED` whether or not the name exists. Every
function takes the ``session`` of one transaction and the moment ``now``; the caller commits
(a refused attempt is recorded too, so the caller must commit it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.accounts.credentials import (
    csrf_for,
    hash_password,
    needs_rehash,
    verify_password,
)
from outreach.accounts.policy import SessionPolicy, ThrottlePolicy
from outreach.accounts.users import API
from outreach.db import Session
from outreach.identity import Role
from outreach.models import Account
from outreach.repository import accounts as account_rows
from outreach.repository import web_sessions as rows
from outreach.tokens import looks_like_token, new_token, token_hash

#: What a refused sign-in says, whatever the reason.
REFUSED = "Unknown account or wrong password."
#: What a throttled sign-in says.
THROTTLED = "Too many failed sign-ins. Wait a few minutes and try again."

#: The longest name or address kept for throttling.
_MAX_NAME = 100
_MAX_ADDRESS = 64


@dataclass(frozen=True)
class SignedIn:
    """The account a request acts as: from a session (``session_id``, ``csrf`` for its forms)
    or an API token (``session_id`` None, no forms)."""

    account_id: int
    name: str
    role: Role
    session_id: int | None = None
    csrf: str = ""


@dataclass(frozen=True)
class SignInOutcome:
    """A sign-in attempt's result: the account, or the message to show."""

    account: Account | None
    refusal: str | None


def sign_in(
    session: Session,
    *,
    name: str,
    password: str,
    address: str,
    now: datetime,
    throttle: ThrottlePolicy,
) -> SignInOutcome:
    """Check ``name`` and ``password`` (unless ``throttle`` refuses first) and record the
    attempt. Old attempts are pruned."""
    name = (name or "").strip().lower()[:_MAX_NAME]
    address = (address or "unknown")[:_MAX_ADDRESS]
    rows.prune_attempts(session, before=throttle.since(now))
    failures = rows.failures_since(
        session, account_name=name, address=address, since=throttle.since(now)
    )
    if throttle.refuses(failures.account, failures.address):
        return SignInOutcome(None, THROTTLED)
    account = account_rows.account_by_name(session, name=name)
    stored = account.password_hash if account is not None else None
    ok = verify_password(stored, password or "")
    ok = ok and account is not None and account.active
    rows.record_attempt(session, account_name=name, address=address, succeeded=ok, at=now)
    if not ok or account is None:
        return SignInOutcome(None, REFUSED)
    if stored is not None and needs_rehash(stored):
        assert account.id is not None
        new_hash = hash_password(password)
        account_rows.update_account(session, account_id=account.id, now=now, password_hash=new_hash)
    return SignInOutcome(account, None)


def open_session(
    session: Session,
    *,
    account: Account,
    address: str | None,
    now: datetime,
    policy: SessionPolicy,
) -> str:
    """A new session for ``account``; returns the random token for its cookie (only its hash
    is stored)."""
    assert account.id is not None
    token = new_token()
    rows.add_session(
        session,
        account_id=account.id,
        token_hash=token_hash(token),
        now=now,
        expires_at=policy.expires_at(now),
        address=(address or None) and address[:_MAX_ADDRESS],
    )
    return token


def session_user(
    session: Session, *, token: str | None, now: datetime, policy: SessionPolicy
) -> SignedIn | None:
    """The account a session cookie signs in, while the session is live and the account
    active; its idle timeout starts again. None otherwise."""
    if not token or not looks_like_token(token):
        return None
    found = rows.session_by_hash(session, token_hash=token_hash(token))
    if found is None:
        return None
    web_session, account = found
    live = policy.is_live(
        last_seen_at=web_session.last_seen_at,
        expires_at=web_session.expires_at,
        revoked_at=web_session.revoked_at,
        now=now,
    )
    if not live or not account.active:
        return None
    assert web_session.id is not None and account.id is not None
    rows.touch_session(session, session_id=web_session.id, now=now)
    return SignedIn(account.id, account.name, Role(account.role), web_session.id, csrf_for(token))


def sign_out(session: Session, *, token: str | None, now: datetime) -> None:
    """End the session of ``token`` (nothing when there is none)."""
    if not token or not looks_like_token(token):
        return
    found = rows.session_by_hash(session, token_hash=token_hash(token))
    if found is not None and found.web_session.id is not None:
        rows.revoke_session(session, session_id=found.web_session.id, now=now)


def api_user(session: Session, *, token: str | None, now: datetime) -> SignedIn | None:
    """The account an API token belongs to, while the token is unrevoked and the account
    active. None otherwise."""
    if not token or not looks_like_token(token):
        return None
    found = account_rows.token_by_hash(session, token_hash=token_hash(token), kind=API)
    if found is None:
        return None
    tok, account = found
    if tok.revoked_at is not None or not account.active:
        return None
    assert tok.id is not None and account.id is not None
    account_rows.touch_token(session, token_id=tok.id, now=now)
    return SignedIn(account.id, account.name, Role(account.role))
