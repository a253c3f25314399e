"""Who acts, and how: roles, channels, account names, and the identity an action records.

Pure: no database, no clock. The two-reviewer rule counts :attr:`Reviewer.name` (an account,
or the OS login of a CLI user who named none); the event log records :attr:`Reviewer.recorded`
("alice via web", "alice via cli by root", or the bare login "root").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from outreach.errors import AccountError


class Role(StrEnum):
    """What an account may do; each role may do everything the one before it may."""

    REVIEWER = "reviewer"  #: read everything; approve, reject and edit letters
    OPERATOR = "operator"  #: also pause/resume, cancel, resolve, requeue, suppressions
    ADMIN = "admin"  #: also manage accounts


#: The roles from weakest to strongest.
ROLE_ORDER = (Role.REVIEWER, Role.OPERATOR, Role.ADMIN)


def role_allows(role: Role | str, needed: Role) -> bool:
    """True when an account of ``role`` may do what ``needed`` may (reviewer < operator <
    admin); False for an unknown role."""
    try:
        return ROLE_ORDER.index(Role(role)) >= ROLE_ORDER.index(needed)
    except ValueError:
        return False


class Channel(StrEnum):
    """How an action reached outreach."""

    WEB = "web"  #: a signed-in console session (or an account's API token)
    CLI = "cli"  #: the command line, as the OS login (optionally naming an account)


class ReviewChannel(StrEnum):
    """Which approvals a campaign counts (the campaign file's ``review_channel``)."""

    ANY = "any"  #: approvals from the console and the CLI
    WEB = "web"  #: only approvals made in a signed-in web session


#: Account names: lowercase letters, digits, '.', '_' and '-', starting with a letter or digit.
ACCOUNT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,99}")


def check_account_name(name: str) -> str:
    """``name`` stripped when it is a valid account name, else :class:`AccountError`."""
    cleaned = (name or "").strip()
    if not ACCOUNT_NAME.fullmatch(cleaned):
        raise AccountError(
            f"account name {cleaned!r}: use 1-100 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return cleaned


def check_role(role: str) -> Role:
    """``role`` as a :class:`Role`, else :class:`AccountError` naming the choices."""
    try:
        return Role((role or "").strip().lower())
    except ValueError:
        choices = ", ".join(r.value for r in ROLE_ORDER)
        raise AccountError(f"role {role!r}: must be one of {choices}") from None


@dataclass(frozen=True)
class Reviewer:
    """Who does a review or operator action.

    ``name`` is the identity the rules count; ``channel`` how it came; ``login`` the OS login
    behind a CLI action; ``account`` whether ``name`` is an account (False: a bare OS login,
    or a name given by a caller that checks nothing, such as the demo).
    """

    name: str
    channel: Channel
    login: str | None = None
    account: bool = False

    @property
    def recorded(self) -> str:
        """What the event log's ``actor`` says: who and how."""
        if self.channel == Channel.WEB:
            return f"{self.name} via web"
        if self.account and self.login:
            return f"{self.name} via cli by {self.login}"
        return self.name

    @classmethod
    def web(cls, account: str) -> Reviewer:
        """A signed-in console account."""
        return cls(account, Channel.WEB, None, True)

    @classmethod
    def cli(cls, login: str, account: str | None = None) -> Reviewer:
        """A CLI user: the OS ``login``, acting as ``account`` when one was named (and found
        active by the caller)."""
        if account:
            return cls(account, Channel.CLI, login, True)
        return cls(login, Channel.CLI, login, False)


def as_reviewer(who: Reviewer | str) -> Reviewer:
    """``who`` as a :class:`Reviewer`; a plain name is a CLI identity recorded as given."""
    if isinstance(who, Reviewer):
        return who
    return Reviewer(who, Channel.CLI, None, False)
