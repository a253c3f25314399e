"""An operator's pages: the queue (resolve unknown, requeue or cancel failed), the
suppression list (add and lift with a reason), contacts with their enrollments, and a
campaign's emergency brake — each recorded as the signed-in account."""

from __future__ import annotations

import hashlib

from sqlmodel import Session, select

from outreach.db import session_scope
from outreach.models import Campaign, Event, Message, Suppression
from tests.factories import make_campaign, make_contact, make_message, make_step
from tests.web_kit import add_account, client, console, csrf_for, sign_in

RAW = b"Subject: hi\r\n\r\nhello\r\n"
APPROVED = hashlib.sha256(RAW).hexdigest()


def operator(db):
    add_account(db.engine, "olga", "operator")
    http = client(console(db.engine, db.url))
    sign_in(http, "olga")
    return http


def messages(db, *statuses: str) -> list[int]:
    with session_scope(db.engine) as s:
        camp = make_campaign(s, "ops")
        step = make_step(s, camp)
        return [
            make_message(s, campaign=camp, step=step, contact=make_contact(s), status=status,
                         raw=RAW, content_hash=APPROVED, approved_hash=APPROVED).id
            for status in statuses
        ]  # fmt: skip


def status_of(db, mid: int) -> str:
    with Session(db.engine) as s:
        return s.get(Message, mid).status


def test_queue_actions(db) -> None:
    unknown, failed, other_failed = messages(db, "unknown", "failed", "failed")
    http = operator(db)
    page = http.get("/queue")
    assert page.status_code == 200 and "It was delivered" in page.text and "Requeue" in page.text
    token = csrf_for(http, "/queue")
    sent = http.post(f"/messages/{unknown}/resolve", data={"csrf": token, "verdict": "sent"})
    assert sent.status_code == 303 and status_of(db, unknown) == "sent"
    again = http.post(f"/messages/{unknown}/resolve", data={"csrf": token, "verdict": "retry"})
    assert again.status_code == 409 and "not unknown" in again.text
    assert http.post(f"/messages/{failed}/requeue", data={"csrf": token}).status_code == 303
    with Session(db.engine) as s:
        requeued = s.get(Message, failed)
    assert requeued.status == "approved" and requeued.first_attempt_at is None
    cancel = http.post(f"/messages/{other_failed}/cancel", data={"csrf": token, "reason": "gone"})
    assert cancel.status_code == 303 and status_of(db, other_failed) == "cancelled"
    with Session(db.engine) as s:
        actors = {e.actor for e in s.exec(select(Event).where(Event.entity == "message"))}
    assert actors == {"olga via web"}


def test_suppressions_added_and_lifted_with_a_reason(db) -> None:
    http = operator(db)
    token = csrf_for(http, "/contacts")
    no_reason = http.post(
        "/suppressions", data={"csrf": token, "email": "x@example.org", "reason": ""}
    )
    assert no_reason.status_code == 400 and "reason" in no_reason.text
    bad = http.post("/suppressions", data={"csrf": token, "email": "not an address", "reason": "r"})
    assert bad.status_code == 400
    added = http.post(
        "/suppressions",
        data={"csrf": token, "email": "Someone@Example.org", "reason": "asked by phone"},
    )
    assert added.status_code == 303 and added.headers["location"] == "/contacts?done=suppressed"
    assert "someone@example.org" in http.get("/contacts").text
    lifted = http.post(
        "/suppressions/lift",
        data={"csrf": token, "email": "someone@example.org", "reason": "asked back"},
    )
    assert lifted.status_code == 303
    missing = http.post(
        "/suppressions/lift", data={"csrf": token, "email": "someone@example.org", "reason": "x"}
    )
    assert missing.status_code == 400 and "is not suppressed" in missing.text
    with Session(db.engine) as s:
        assert s.exec(select(Suppression)).all() == []
        events = s.exec(select(Event).where(Event.entity == "suppression").order_by(Event.id)).all()
    assert [(e.action, e.reason, e.actor) for e in events] == [
        ("suppressed", "asked by phone", "olga via web"),
        ("suppression_lifted", "asked back", "olga via web"),
    ]
    assert events[1].data == {
        "email": "someone@example.org",
        "reason": "operator",
        "detail": "asked by phone",
        "inbound_id": None,
    }


def test_contacts_search_and_the_brake(db) -> None:
    with session_scope(db.engine) as s:
        make_campaign(s, "brake")
        make_contact(s, "minister@mfa.example.org", name="A <b>Minister</b>", organisation="MFA")
        make_contact(s, "other@example.org", name="Someone Else")
    http = operator(db)
    found = http.get("/contacts?q=mfa")
    assert found.status_code == 200 and "minister@mfa.example.org" in found.text
    assert "other@example.org" not in found.text and "A &lt;b&gt;Minister&lt;/b&gt;" in found.text
    token = csrf_for(http)
    assert http.post("/campaigns/brake/pause", data={"csrf": token}).status_code == 303
    with Session(db.engine) as s:
        assert s.exec(select(Campaign)).one().state == "paused"
    assert "Resume" in http.get("/").text
    missing = http.post("/campaigns/nosuch/pause", data={"csrf": token})
    assert missing.status_code == 400 and "nosuch" in missing.text


def test_an_admin_adds_and_disables_accounts(db) -> None:
    add_account(db.engine, "ada", "admin")
    http = client(console(db.engine, db.url))
    sign_in(http, "ada")
    token = csrf_for(http, "/users")
    added = http.post("/users", data={"csrf": token, "name": "newbie", "role": "reviewer"})
    assert added.status_code == 200 and "http://127.0.0.1:8080/set-password/" in added.text
    link = added.text.split("http://127.0.0.1:8080", 1)[1].split("<", 1)[0]
    fresh = client(console(db.engine, db.url))
    assert fresh.get(link).status_code == 200
    dup = http.post("/users", data={"csrf": token, "name": "newbie", "role": "reviewer"})
    assert dup.status_code == 400 and "already exists" in dup.text
    assert http.post("/users/newbie/disable", data={"csrf": token}).status_code == 303
    assert fresh.get(link).status_code == 404  # a disabled account's link stops working
    with Session(db.engine) as s:
        actions = [
            e.action
            for e in s.exec(select(Event).where(Event.entity == "account").order_by(Event.id))
        ]
    assert actions[-3:] == ["account_created", "password_link_issued", "account_disabled"]
