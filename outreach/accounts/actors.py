"""Who the command line acts as: the OS login, and an account only when one is named and
active (recorded as "NAME via cli by LOGIN"). The CLI cannot act as an account that does not
exist or is disabled."""

from __future__ import annotations

from outreach.accounts.users import active_account
from outreach.db import Session
from outreach.errors import ReviewError
from outreach.identity import Reviewer


def cli_reviewer(session: Session, *, login: str, name: str | None) -> Reviewer:
    """The CLI identity of OS user ``login``, acting as account ``name`` when given.

    Raises :class:`ReviewError` when ``name`` is not an active account.
    """
    if not name or not name.strip():
        return Reviewer.cli(login)
    account = active_account(session, name=name)
    if account is None:
        raise ReviewError(
            f"reviewer {name.strip()!r} is not an active account (outreach users list); "
            f"without --reviewer the CLI records your login ({login})"
        )
    return Reviewer.cli(login, account.name)
