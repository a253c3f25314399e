"""Reviewing in the console: the same services and rules as the CLI, as the signed-in account
— two accounts for a two-reviewer letter, the same one twice refused, review_channel = "web",
CSRF on every form, roles, edit with a diff, approve-all with a confirmed count."""

from __future__ import annotations

import re

import pytest
from sqlmodel import Session, select

from outreach import review
from outreach.db import session_scope
from outreach.errors import ReviewError
from outreach.identity import Reviewer
from outreach.models import Approval, Event, Message
from tests.factories import T0
from tests.web_kit import add_account, client, console, csrf_for, seed_pending, sign_in


def signed_in(db, name: str, role: str = "reviewer"):
    add_account(db.engine, name, role)
    http = client(console(db.engine, db.url))
    assert sign_in(http, name).status_code == 303
    return http


def state(db, mid: int) -> tuple[str, list[tuple[str, str]], int]:
    with Session(db.engine) as s:
        message = s.get(Message, mid)
        approvals = [(a.reviewer, a.channel) for a in s.exec(select(Approval)).all()]
        events = len(s.exec(select(Event).where(Event.entity == "message")).all())
    return message.status, approvals, events


def test_two_accounts_approve_a_two_reviewer_letter(db) -> None:
    (mid,) = seed_pending(db.engine, approvals_required=2)
    alice, bob = signed_in(db, "alice"), signed_in(db, "bob")
    first = alice.post(f"/messages/{mid}/approve", data={"csrf": csrf_for(alice), "note": "ok"})
    assert first.status_code == 303 and first.headers["location"].endswith("partially_approved")
    again = alice.post(f"/messages/{mid}/approve", data={"csrf": csrf_for(alice)})
    assert (
        again.status_code == 409 and f"reviewer alice already approved message {mid}" in again.text
    )
    second = bob.post(f"/messages/{mid}/approve", data={"csrf": csrf_for(bob)})
    assert second.status_code == 303 and second.headers["location"].endswith("=approved")
    status, approvals, _ = state(db, mid)
    assert status == "approved" and approvals == [("alice", "web"), ("bob", "web")]
    with Session(db.engine) as s:
        last = s.exec(select(Event).order_by(Event.id.desc())).first()
    assert last.actor == "bob via web" and last.data["channel"] == "web"


def test_a_post_without_the_csrf_token_changes_nothing(db) -> None:
    (mid,) = seed_pending(db.engine)
    alice = signed_in(db, "alice")
    before = state(db, mid)
    for data in ({}, {"csrf": "forged"}, {"csrf": ""}):
        refused = alice.post(f"/messages/{mid}/approve", data=data)
        assert refused.status_code == 403
        assert (
            alice.post(f"/messages/{mid}/reject", data={**data, "reason": "x"}).status_code == 403
        )
    assert state(db, mid) == before == ("pending_review", [], 0)


def test_a_reviewer_cannot_reach_operator_or_admin_pages(db) -> None:
    seed_pending(db.engine)
    alice = signed_in(db, "alice")
    token = csrf_for(alice)
    assert alice.get("/users").status_code == 403
    assert (
        alice.post("/users", data={"csrf": token, "name": "eve", "role": "admin"}).status_code
        == 403
    )
    assert alice.post("/campaigns/ccm/pause", data={"csrf": token}).status_code == 403
    assert (
        alice.post(
            "/suppressions", data={"csrf": token, "email": "a@example.org", "reason": "x"}
        ).status_code
        == 403
    )
    assert alice.post("/messages/1/cancel", data={"csrf": token}).status_code == 403
    operator = signed_in(db, "olga", "operator")
    assert operator.get("/users").status_code == 403
    paused = operator.post("/campaigns/ccm/pause", data={"csrf": csrf_for(operator)})
    assert paused.status_code == 303
    admin = signed_in(db, "ada", "admin")
    assert admin.get("/users").status_code == 200


def test_review_channel_web_counts_only_web_approvals(db) -> None:
    (mid,) = seed_pending(db.engine, approvals_required=2, review_channel="web")
    refusal = 'counts only approvals made in a signed-in web session (review_channel = "web")'
    with session_scope(db.engine) as s, pytest.raises(ReviewError, match=re.escape(refusal)):
        review.approve(s, [mid], reviewer=Reviewer.cli("carol-login", "carol"), now=T0)
    alice = signed_in(db, "alice")
    assert alice.post(f"/messages/{mid}/approve", data={"csrf": csrf_for(alice)}).status_code == 303
    assert state(db, mid)[1] == [("alice", "web")]


def test_reject_needs_a_reason_and_edit_shows_a_diff_first(db) -> None:
    (mid,) = seed_pending(db.engine)
    alice = signed_in(db, "alice")
    token = csrf_for(alice)
    no_reason = alice.post(f"/messages/{mid}/reject", data={"csrf": token, "reason": "  "})
    assert no_reason.status_code == 409 and "a reason is required" in no_reason.text
    form = alice.get(f"/messages/{mid}/edit")
    assert form.status_code == 200 and 'value="save"' not in form.text
    fields = {"csrf": token, "subject": "99 days to go", "text": "Dear Minister,\r\n", "html": ""}
    preview = alice.post(f"/messages/{mid}/edit", data={**fields, "action": "preview"})
    assert preview.status_code == 200 and "-100 days to go" in preview.text
    assert "+99 days to go" in preview.text and 'value="save"' in preview.text
    assert state(db, mid)[0] == "pending_review"
    with Session(db.engine) as s:
        assert s.get(Message, mid).subject == "100 days to go"  # a preview saves nothing


def test_approve_all_needs_the_confirmed_count(db) -> None:
    ids = seed_pending(db.engine, 3)
    alice = signed_in(db, "alice")
    token = csrf_for(alice, "/review")
    data = {"csrf": token, "campaign": "ccm", "expected": "2", "confirm": "yes"}
    stale_count = alice.post("/review/approve-all", data=data)
    assert stale_count.status_code == 400 and "not the 2 you confirmed" in stale_count.text
    assert all(state(db, mid)[0] == "pending_review" for mid in ids)
    unconfirmed = alice.post("/review/approve-all", data={**data, "expected": "3", "confirm": ""})
    assert unconfirmed.status_code == 400
    done = alice.post("/review/approve-all", data={**data, "expected": "3"})
    assert done.status_code == 303
    assert all(state(db, mid)[0] == "approved" for mid in ids)


def test_letter_content_is_escaped_outside_the_frame(db) -> None:
    payload = '<script>document.title="pwned"</script><img src=x onerror=alert(1)>'
    (mid,) = seed_pending(db.engine, subject=f"Hello {payload}", html=f"<p>hi</p>{payload}")
    alice = signed_in(db, "alice")
    for path in ("/review", f"/messages/{mid}"):
        page = alice.get(path)
        assert page.status_code == 200
        assert "<script>document.title" not in page.text and "onerror=alert(1)>" not in page.text
        assert "&lt;script&gt;" in page.text
    frame = alice.get(f"/messages/{mid}/letter")
    assert frame.status_code == 200 and payload in frame.text  # the exact bytes, in the sandbox
    policy = frame.headers["content-security-policy"]
    assert "sandbox" in policy and "script-src" not in policy and "default-src 'none'" in policy
