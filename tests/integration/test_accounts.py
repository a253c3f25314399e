"""Accounts and who acts: the users services, the CLI identity (an account only when named and
active), approvals recording channel and login, and review_channel = "web" applied when
approvals are counted (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from outreach import review
from outreach.accounts.actors import cli_reviewer
from outreach.accounts.policy import ThrottlePolicy
from outreach.accounts.signin import sign_in
from outreach.accounts.users import (
    add_user,
    disable_user,
    list_users,
    password_link_account,
    set_password,
    use_password_link,
)
from outreach.db import session_scope
from outreach.errors import AccountError, NotFoundError, ReviewError
from outreach.identity import Reviewer
from outreach.models import Account, Approval, Campaign, Event
from tests.factories import T0
from tests.web_kit import PASSWORD, add_account, seed_pending


def test_add_list_and_refuse_bad_accounts(db) -> None:
    with session_scope(db.engine) as s:
        add_user(s, name="alice", role="operator", now=T0, actor="root")
        with pytest.raises(AccountError, match="already exists"):
            add_user(s, name="alice", role="reviewer", now=T0, actor="root")
        with pytest.raises(AccountError, match="account name"):
            add_user(s, name="Alice Smith", role="reviewer", now=T0, actor="root")
        with pytest.raises(AccountError, match="role 'boss'"):
            add_user(s, name="bob", role="boss", now=T0, actor="root")
        with pytest.raises(AccountError, match="at least 10"):
            set_password(s, name="alice", password="short", now=T0, actor="root")
        with pytest.raises(NotFoundError):
            set_password(s, name="nobody", password=PASSWORD, now=T0, actor="root")
    with Session(db.engine) as s:
        users = list_users(s)
        stored = s.exec(select(Account)).one()
        events = s.exec(select(Event).where(Event.entity == "account")).all()
    assert [(u.name, u.role, u.active, u.has_password) for u in users] == [
        ("alice", "operator", True, False)
    ]
    assert stored.password_hash is None
    assert [(e.action, e.actor) for e in events] == [("account_created", "root")]


def test_password_hash_is_argon2id_and_sign_in_checks_it(db) -> None:
    add_account(db.engine, "alice")
    with Session(db.engine) as s:
        stored = s.exec(select(Account)).one().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    with session_scope(db.engine) as s:
        ok = sign_in(
            s,
            name="alice",
            password=PASSWORD,
            address="127.0.0.1",
            now=T0,
            throttle=ThrottlePolicy(),
        )
        bad = sign_in(
            s,
            name="alice",
            password="nope nope nope",
            address="127.0.0.1",
            now=T0,
            throttle=ThrottlePolicy(),
        )
    assert ok.account is not None and ok.refusal is None
    assert bad.account is None and bad.refusal == "Unknown account or wrong password."


def test_password_link_is_one_time(db) -> None:
    add_account(db.engine, "alice")
    from outreach.accounts.users import password_link

    with session_scope(db.engine) as s:
        token = password_link(s, name="alice", now=T0, actor="root")
        assert password_link_account(s, token=token, now=T0).name == "alice"
        use_password_link(s, token=token, password="a brand new password", now=T0)
        assert password_link_account(s, token=token, now=T0) is None
        with pytest.raises(AccountError, match="not valid"):
            use_password_link(s, token=token, password="another new password", now=T0)


def test_cli_acts_as_an_account_only_when_it_is_active(db) -> None:
    add_account(db.engine, "alice")
    with session_scope(db.engine) as s:
        assert cli_reviewer(s, login="root", name=None) == Reviewer.cli("root")
        who = cli_reviewer(s, login="root", name="alice")
        assert (who.name, who.recorded) == ("alice", "alice via cli by root")
        with pytest.raises(ReviewError, match="'mallory' is not an active account"):
            cli_reviewer(s, login="root", name="mallory")
        disable_user(s, name="alice", now=T0, actor="root")
        with pytest.raises(ReviewError, match="'alice' is not an active account"):
            cli_reviewer(s, login="root", name="alice")


def test_one_login_cannot_be_two_reviewers(db) -> None:
    (mid,) = seed_pending(db.engine, approvals_required=2)
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer=Reviewer.cli("root", "alice"), now=T0)
    with (
        session_scope(db.engine) as s,
        pytest.raises(ReviewError, match="login root already approved"),
    ):
        review.approve(s, [mid], reviewer=Reviewer.cli("root", "bob"), now=T0)
    with session_scope(db.engine) as s:
        (done,) = review.approve(s, [mid], reviewer=Reviewer.web("bob"), now=T0)
    assert done.approved and done.approvals == ("alice", "bob")
    with Session(db.engine) as s:
        rows = [
            (a.reviewer, a.channel, a.login) for a in s.exec(select(Approval).order_by(Approval.id))
        ]
        actors = [e.actor for e in s.exec(select(Event).order_by(Event.id))]
    assert rows == [("alice", "cli", "root"), ("bob", "web", None)]
    assert actors == ["alice via cli by root", "bob via web"]


def test_switching_to_web_review_stops_counting_cli_approvals(db) -> None:
    (mid,) = seed_pending(db.engine, approvals_required=2)
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer=Reviewer.cli("root", "alice"), now=T0)
        assert review.list_pending(s)[0].approvals == ("alice",)
    with session_scope(db.engine) as s:
        s.exec(select(Campaign)).one().review_channel = "web"
    with session_scope(db.engine) as s:
        assert review.list_pending(s)[0].approvals == ()
        (first,) = review.approve(s, [mid], reviewer=Reviewer.web("alice"), now=T0)
        assert not first.approved  # alice's CLI approval no longer counts; this one does
