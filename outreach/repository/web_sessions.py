"""Console sessions and sign-in attempts.

A session row holds the SHA-256 of its cookie's random token; revoking sets ``revoked_at``.
Sign-in attempts are kept for the throttling window and pruned after it.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

import sqlalchemy as sa
from sqlmodel import Session, col, select

from outreach.models import Account, SignInAttempt, WebSession


class SessionRow(NamedTuple):
    """A session with the account it belongs to."""

    web_session: WebSession
    account: Account


class FailureCounts(NamedTuple):
    """Failed sign-ins in a window: for one account name and from one address."""

    account: int
    address: int


def add_session(
    session: Session,
    *,
    account_id: int,
    token_hash: str,
    now: datetime,
    expires_at: datetime,
    address: str | None,
) -> WebSession:
    """Insert a new session for an account."""
    row = WebSession(
        account_id=account_id,
        token_hash=token_hash,
        created_at=now,
        last_seen_at=now,
        expires_at=expires_at,
        address=address,
    )
    session.add(row)
    session.flush()
    return row


def session_by_hash(session: Session, *, token_hash: str) -> SessionRow | None:
    """The session whose token hashes to ``token_hash``, with its account; None when there is
    none (revoked and expired ones included: the caller decides)."""
    row = session.exec(
        select(WebSession, Account)
        .join(Account, col(Account.id) == col(WebSession.account_id))
        .where(WebSession.token_hash == token_hash)
    ).first()
    return SessionRow(*row) if row is not None else None


def touch_session(session: Session, *, session_id: int, now: datetime) -> None:
    """Record activity on a session (its idle timeout starts again)."""
    session.execute(
        sa.update(WebSession)
        .where(col(WebSession.id) == session_id)
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_session(session: Session, *, session_id: int, now: datetime) -> None:
    """End one session."""
    session.execute(
        sa.update(WebSession)
        .where(col(WebSession.id) == session_id, col(WebSession.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


def revoke_account_sessions(session: Session, *, account_id: int, now: datetime) -> int:
    """End every live session of an account; how many."""
    result = session.execute(
        sa.update(WebSession)
        .where(col(WebSession.account_id) == account_id, col(WebSession.revoked_at).is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def record_attempt(
    session: Session, *, account_name: str, address: str, succeeded: bool, at: datetime
) -> None:
    """Remember one sign-in attempt."""
    session.add(
        SignInAttempt(account_name=account_name, address=address, succeeded=succeeded, at=at)
    )
    session.flush()


def failures_since(
    session: Session, *, account_name: str, address: str, since: datetime
) -> FailureCounts:
    """Failed sign-ins since ``since``: for ``account_name`` (any address) and from
    ``address`` (any account name)."""

    def count(*where: sa.ColumnElement[bool]) -> int:
        stmt = (
            sa.select(sa.func.count())
            .select_from(SignInAttempt)
            .where(col(SignInAttempt.succeeded).is_(False), col(SignInAttempt.at) >= since, *where)
        )
        return int(session.execute(stmt).scalar() or 0)

    return FailureCounts(
        account=count(col(SignInAttempt.account_name) == account_name),
        address=count(col(SignInAttempt.address) == address),
    )


def prune_attempts(session: Session, *, before: datetime) -> None:
    """Forget sign-in attempts older than ``before``."""
    session.execute(sa.delete(SignInAttempt).where(col(SignInAttempt.at) < before))
