"""Roles, account names and the identity an action records (outreach.identity)."""

from __future__ import annotations

import pytest

from outreach.errors import AccountError
from outreach.identity import (
    Channel,
    ReviewChannel,
    Reviewer,
    Role,
    as_reviewer,
    check_account_name,
    check_role,
    role_allows,
)
from outreach.review.rules import channel_counts


@pytest.mark.parametrize(
    ("role", "needed", "allowed"),
    [
        (Role.REVIEWER, Role.REVIEWER, True),
        (Role.REVIEWER, Role.OPERATOR, False),
        (Role.REVIEWER, Role.ADMIN, False),
        (Role.OPERATOR, Role.REVIEWER, True),
        (Role.OPERATOR, Role.OPERATOR, True),
        (Role.OPERATOR, Role.ADMIN, False),
        (Role.ADMIN, Role.ADMIN, True),
        ("admin", Role.OPERATOR, True),
        ("root", Role.REVIEWER, False),
    ],
)
def test_roles_are_ordered(role: str, needed: Role, allowed: bool) -> None:
    assert role_allows(role, needed) is allowed


def test_account_names_and_roles_are_checked() -> None:
    assert check_account_name("  alice.b-2 ") == "alice.b-2"
    for bad in ("", "Alice", "-alice", "a b", "a" * 101, "élise", "ali\nce"):
        with pytest.raises(AccountError):
            check_account_name(bad)
    assert check_role(" Operator ") == Role.OPERATOR
    with pytest.raises(AccountError, match="reviewer, operator, admin"):
        check_role("chief")


def test_what_the_event_log_records() -> None:
    assert Reviewer.web("alice").recorded == "alice via web"
    assert Reviewer.cli("root", "alice").recorded == "alice via cli by root"
    assert Reviewer.cli("root").recorded == "root"
    assert Reviewer.cli("root").name == "root" and Reviewer.cli("root").login == "root"
    assert as_reviewer("demo") == Reviewer("demo", Channel.CLI, None, False)
    assert as_reviewer("demo").recorded == "demo"


def test_a_web_campaign_counts_only_web_approvals() -> None:
    assert channel_counts(ReviewChannel.ANY.value, Channel.CLI)
    assert channel_counts(ReviewChannel.ANY.value, Channel.WEB)
    assert channel_counts(ReviewChannel.WEB.value, Channel.WEB)
    assert not channel_counts(ReviewChannel.WEB.value, Channel.CLI)
