"""Account rows and the secrets given to their holders (set-password links, API tokens).

Keyword-only functions over the ``Session`` of one transaction. Tokens are looked up by their
SHA-256 only; the tokens themselves are never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.models import Account, AccountToken


class TokenRow(NamedTuple):
    """A token row with the account it belongs to."""

    token: AccountToken
    account: Account


def account_by_name(session: Session, *, name: str) -> Account | None:
    """The account called ``name``, or None."""
    return session.exec(select(Account).where(Account.name == name)).first()


def account_by_id(session: Session, *, account_id: int) -> Account | None:
    """The account ``account_id``, or None."""
    return session.get(Account, account_id)


def list_accounts(session: Session) -> list[Account]:
    """Every account, by name."""
    return list(session.exec(select(Account).order_by(col(Account.name))))


def add_account(session: Session, *, name: str, role: str, now: datetime) -> Account:
    """Insert an active account without a password."""
    account = Account(name=name, role=role, active=True, created_at=now, updated_at=now)
    session.add(account)
    session.flush()
    return account


def update_account(session: Session, *, account_id: int, now: datetime, **values: Any) -> None:
    """Set ``values`` (columns of ``account``) on one account and stamp ``updated_at``."""
    session.execute(
        sa.update(Account)
        .where(col(Account.id) == account_id)
        .values(updated_at=now, **values)
        .execution_options(synchronize_session="fetch")
    )


def add_token(
    session: Session,
    *,
    account_id: int,
    kind: str,
    token_hash: str,
    now: datetime,
    expires_at: datetime | None,
) -> None:
    """Store the hash of a new token of ``kind`` for an account."""
    session.add(
        AccountToken(
            account_id=account_id,
            kind=kind,
            token_hash=token_hash,
            created_at=now,
            expires_at=expires_at,
        )
    )
    session.flush()


def token_by_hash(session: Session, *, token_hash: str, kind: str) -> TokenRow | None:
    """The token of ``kind`` whose hash is ``token_hash``, with its account; None when there is
    none (used, revoked and expired ones included: the caller decides)."""
    row = session.exec(
        select(AccountToken, Account)
        .join(Account, col(Account.id) == col(AccountToken.account_id))
        .where(AccountToken.token_hash == token_hash, AccountToken.kind == kind)
    ).first()
    return TokenRow(*row) if row is not None else None


def use_token(session: Session, *, token_id: int, now: datetime) -> bool:
    """Mark a one-time token used (compare-and-set); False when it already was."""
    result = session.execute(
        sa.update(AccountToken)
        .where(col(AccountToken.id) == token_id, col(AccountToken.used_at).is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def touch_token(session: Session, *, token_id: int, now: datetime) -> None:
    """Record that a token was just used (API tokens)."""
    session.execute(
        sa.update(AccountToken)
        .where(col(AccountToken.id) == token_id)
        .values(last_used_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_tokens(
    session: Session, *, account_id: int, now: datetime, kind: str | None = None
) -> int:
    """Revoke every live token of an account (of one ``kind``, if given); how many."""
    stmt = sa.update(AccountToken).where(
        col(AccountToken.account_id) == account_id,
        col(AccountToken.revoked_at).is_(None),
        col(AccountToken.used_at).is_(None),
    )
    if kind is not None:
        stmt = stmt.where(col(AccountToken.kind) == kind)
    result = session.execute(
        stmt.values(revoked_at=now).execution_options(synchronize_session=False)
    )
    return result.rowcount
