"""Rules the console shares with the CLI through the same services: a stale letter not yet
rendered again cannot be approved (review/approvals.py), the queue says when each letter is
next tried and why it waits (dispatch/waits.py), and the dashboard says when replies are not
fetched (the notice ``outreach status`` prints)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from outreach import review
from outreach.db import session_scope
from outreach.dispatch.waits import queue_listing
from outreach.errors import ReviewError
from outreach.identity import Reviewer
from outreach.models import Approval, Message
from tests.factories import T0, make_campaign, make_contact, make_message, make_step
from tests.web_kit import (
    add_account,
    client,
    console,
    console_settings,
    csrf_for,
    seed_pending,
    sign_in,
)

STALE = "rendered for 2010-04-22, leaves 2010-04-23"


def signed_in(db, name: str, role: str = "reviewer", **options):
    add_account(db.engine, name, role)
    http = client(console(db.engine, db.url, **options))
    assert sign_in(http, name).status_code == 303
    return http


def test_the_console_refuses_a_stale_letter_with_the_cli_s_words(db) -> None:
    (mid,) = seed_pending(db.engine)
    with session_scope(db.engine) as s:
        s.get(Message, mid).stale_reason = STALE
    with (
        session_scope(db.engine) as s,
        pytest.raises(ReviewError, match=re.escape(f"message {mid} is stale ({STALE})")) as cli,
    ):
        review.approve(s, [mid], reviewer=Reviewer.cli("carol-login"), now=T0)
    alice = signed_in(db, "alice")
    refused = alice.post(f"/messages/{mid}/approve", data={"csrf": csrf_for(alice)})
    assert refused.status_code == 409
    assert f"message {mid} is stale" in refused.text and "outreach plan" in refused.text
    assert cli.value.message.split(";")[0] in refused.text.replace("&#39;", "'")
    with Session(db.engine) as s:
        assert s.exec(select(Approval)).all() == []
        assert s.get(Message, mid).status == "pending_review"
    dashboard = alice.get("/")
    assert "1 stale letter to render again" in dashboard.text


def test_the_queue_page_says_when_each_letter_is_next_tried(db) -> None:
    with session_scope(db.engine) as s:
        camp = make_campaign(s, "later")
        step = make_step(s, camp)
        later = T0 + timedelta(days=3)
        make_message(
            s,
            campaign=camp,
            step=step,
            contact=make_contact(s, "later@example.org"),
            status="approved",
            scheduled_for=later,
            due_at=later,
        )
    with session_scope(db.engine) as s:
        (item,) = queue_listing(s, now=T0)
    assert item.waiting_reason == "scheduled" and item.next_try_at is not None
    olga = signed_in(db, "olga", "operator")
    page = olga.get("/queue")
    assert page.status_code == 200
    assert "next try" in page.text and ": scheduled</td>" in page.text
    assert item.next_try_at[:10] in page.text


def test_the_dashboard_says_when_replies_are_not_fetched(db) -> None:
    alice = signed_in(db, "alice")
    assert "IMAP is not configured" in alice.get("/").text
    settings = console_settings(db.url, imap_host="127.0.0.1", imap_username="outreach")
    add_account(db.engine, "bob")
    fetched = client(console(db.engine, db.url, settings=settings))
    assert sign_in(fetched, "bob").status_code == 303
    page = fetched.get("/")
    assert page.status_code == 200 and "IMAP is not configured" not in page.text
