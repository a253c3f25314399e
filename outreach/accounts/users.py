"""Account services the CLI (``outreach users …``) and the console's admin page both call:
add, list, disable, set a password (directly or through a one-time link), issue an API token.

Every function takes the ``session`` of one transaction, the moment ``now`` and, for changes,
the ``actor`` recorded in the event log. Disabling an account or changing its password ends
its sessions; a new API token revokes the previous one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from outreach.accounts.credentials import (
    check_password,
    hash_password,
)
from outreach.accounts.policy import PASSWORD_LINK_LIFETIME
from outreach.db import Session
from outreach.errors import AccountError, NotFoundError
from outreach.identity import check_account_name, check_role
from outreach.lifecycle import record_event
from outreach.models import Account
from outreach.repository import accounts as rows
from outreach.repository.web_sessions import revoke_account_sessions
from outreach.tokens import looks_like_token, new_token, token_hash

#: Token kinds.
SET_PASSWORD = "set_password"
API = "api"


@dataclass(frozen=True)
class AccountView:
    """One account as ``users list`` shows it (``--json`` field names)."""

    name: str
    role: str
    active: bool
    has_password: bool
    created_at: datetime


def _account(session: Session, name: str) -> Account:
    account = rows.account_by_name(session, name=(name or "").strip())
    if account is None:
        raise NotFoundError(f"no account {name!r} (outreach users list)")
    assert account.id is not None
    return account


def _log(session: Session, account: Account, action: str, *, actor: str, now: datetime) -> None:
    assert account.id is not None
    record_event(
        session,
        now=now,
        actor=actor,
        entity="account",
        entity_id=account.id,
        action=action,
        data={"account": account.name, "role": account.role},
    )


def add_user(session: Session, *, name: str, role: str, now: datetime, actor: str) -> Account:
    """Create an active account of ``role`` without a password (set it with
    :func:`set_password` or a link from :func:`password_link`). AccountError for a bad name or
    role, or a name already taken."""
    name = check_account_name(name)
    checked = check_role(role)
    if rows.account_by_name(session, name=name) is not None:
        raise AccountError(f"account {name!r} already exists")
    account = rows.add_account(session, name=name, role=checked.value, now=now)
    _log(session, account, "account_created", actor=actor, now=now)
    return account


def list_users(session: Session) -> list[AccountView]:
    """Every account, by name."""
    return [
        AccountView(a.name, a.role, a.active, a.password_hash is not None, a.created_at)
        for a in rows.list_accounts(session)
    ]


def active_account(session: Session, *, name: str) -> Account | None:
    """The account ``name`` when it exists and is active, else None."""
    account = rows.account_by_name(session, name=(name or "").strip())
    return account if account is not None and account.active else None


def disable_user(session: Session, *, name: str, now: datetime, actor: str) -> bool:
    """Disable an account: it can no longer sign in, its sessions end and its tokens are
    revoked. False when it already was disabled."""
    account = _account(session, name)
    assert account.id is not None
    revoke_account_sessions(session, account_id=account.id, now=now)
    rows.revoke_tokens(session, account_id=account.id, now=now)
    if not account.active:
        return False
    rows.update_account(session, account_id=account.id, now=now, active=False)
    _log(session, account, "account_disabled", actor=actor, now=now)
    return True


def set_password(session: Session, *, name: str, password: str, now: datetime, actor: str) -> None:
    """Set an account's password (argon2id) and end its sessions. AccountError for a password
    that is too short or too long."""
    account = _account(session, name)
    _store_password(session, account, password, now=now, actor=actor)


def _store_password(
    session: Session, account: Account, password: str, *, now: datetime, actor: str
) -> None:
    assert account.id is not None
    hashed = hash_password(check_password(password))
    rows.update_account(session, account_id=account.id, now=now, password_hash=hashed)
    revoke_account_sessions(session, account_id=account.id, now=now)
    rows.revoke_tokens(session, account_id=account.id, now=now, kind=SET_PASSWORD)
    _log(session, account, "password_set", actor=actor, now=now)


def password_link_url(console_url: str, token: str) -> str:
    """The one-time link of a set-password ``token`` on the console at ``console_url``."""
    return f"{console_url.rstrip('/')}/set-password/{token}"


def _issue(
    session: Session, name: str, kind: str, *, now: datetime, actor: str, action: str
) -> str:
    """A new token of ``kind`` for the active account ``name`` (its live ones of that kind are
    revoked); only its hash is stored."""
    account = _account(session, name)
    assert account.id is not None
    if not account.active:
        raise AccountError(f"account {account.name!r} is disabled")
    rows.revoke_tokens(session, account_id=account.id, now=now, kind=kind)
    token = new_token()
    rows.add_token(
        session,
        account_id=account.id,
        kind=kind,
        token_hash=token_hash(token),
        now=now,
        expires_at=now + PASSWORD_LINK_LIFETIME if kind == SET_PASSWORD else None,
    )
    _log(session, account, action, actor=actor, now=now)
    return token


def password_link(session: Session, *, name: str, now: datetime, actor: str) -> str:
    """A new one-time set-password token for an account (valid 72 hours; earlier links are
    revoked); :func:`password_link_url` turns it into the link."""
    return _issue(session, name, SET_PASSWORD, now=now, actor=actor, action="password_link_issued")


def password_link_account(session: Session, *, token: str, now: datetime) -> Account | None:
    """The active account a set-password token is for, while it is unused, unrevoked and
    unexpired; None otherwise (whatever the reason)."""
    if not looks_like_token(token):
        return None
    found = rows.token_by_hash(session, token_hash=token_hash(token), kind=SET_PASSWORD)
    if found is None:
        return None
    tok, account = found
    usable = tok.used_at is None and tok.revoked_at is None
    if not usable or (tok.expires_at is not None and now >= tok.expires_at):
        return None
    return account if account.active else None


def use_password_link(session: Session, *, token: str, password: str, now: datetime) -> str:
    """Set the password of the account a set-password token is for, and use the token up.
    Returns the account name; AccountError when the link is not valid any more or the
    password is not acceptable."""
    account = password_link_account(session, token=token, now=now)
    if account is None:
        raise AccountError("this link is not valid (it may have been used or have expired)")
    check_password(password)
    found = rows.token_by_hash(session, token_hash=token_hash(token), kind=SET_PASSWORD)
    assert found is not None and found.token.id is not None
    if not rows.use_token(session, token_id=found.token.id, now=now):
        raise AccountError("this link is not valid (it may have been used or have expired)")
    _store_password(session, account, password, now=now, actor=f"{account.name} via web")
    return account.name


def new_api_token(session: Session, *, name: str, now: datetime, actor: str) -> str:
    """A new API token for an active account (for ``/api/…``); its previous one is revoked."""
    return _issue(session, name, API, now=now, actor=actor, action="api_token_issued")
