"""One-click unsubscribe (RFC 8058): each planned letter carries its own link, composed at plan
time (the approved hash covers it) and kept when the letter is composed again; a POST suppresses
exactly that contact, idempotently, with events; a GET never does; junk gets a plain page."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.policy import default

from sqlmodel import Session, select

from outreach import review
from outreach.attachments.listing import attachments_in, describe
from outreach.db import session_scope
from outreach.models import Contact, Enrollment, Event, Message, Suppression
from outreach.planner import plan, recompose_message
from outreach.planner.letters import recomposer, renderer_for
from outreach.planner.replan import Replanning
from outreach.repository.campaigns import get_campaign, load_campaign
from outreach.review.actions import edit
from outreach.tokens import token_hash
from outreach.unsubscribe_links import token_in_raw
from tests.factories import T0
from tests.planning import load_sample, sample_settings
from tests.web_kit import client, console

T_APPEAL = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
PUBLIC = "https://console.example.org"


def planned(db) -> list[Message]:
    settings = sample_settings(db.url, public_url=PUBLIC)
    load_sample(db.engine, settings, T_APPEAL)
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.queued > 2 and not report.render_errors
    with Session(db.engine) as s:
        return list(s.exec(select(Message).order_by(Message.id)))


def test_each_letter_carries_its_own_link_in_the_approved_bytes(db) -> None:
    letters = planned(db)
    tokens = [token_in_raw(m.body.raw) for m in letters]
    assert all(tokens) and len(set(tokens)) == len(letters)
    first = letters[0]
    parsed = message_from_bytes(first.body.raw, policy=default)
    assert f"<{PUBLIC}/unsubscribe/{tokens[0]}>" in str(parsed["List-Unsubscribe"])
    assert "<mailto:" in str(parsed["List-Unsubscribe"])
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert first.unsubscribe_token_hash == token_hash(tokens[0])
    assert tokens[0] not in str(first.unsubscribe_token_hash)  # only the hash is a column
    settings = sample_settings(db.url, public_url=PUBLIC)
    with session_scope(db.engine) as s:
        message = s.get(Message, first.id)
        raw, _ = recompose_message(
            s,
            message,
            subject="Edited",
            text=message.body.text,
            html=message.body.html,
            settings=settings,
        )
    assert token_in_raw(raw) == tokens[0]  # an edit keeps the letter's link


def test_without_an_https_public_url_letters_have_no_link(db) -> None:
    settings = sample_settings(db.url, public_url="http://localhost:8080")
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_APPEAL, settings=settings)
    with Session(db.engine) as s:
        letters = list(s.exec(select(Message)))
    assert letters and all(m.unsubscribe_token_hash is None for m in letters)
    assert all(token_in_raw(m.body.raw) is None for m in letters)


def test_one_click_post_suppresses_exactly_that_contact(db) -> None:
    letters = planned(db)
    target, other = letters[0], letters[1]
    with session_scope(db.engine) as s:
        review.approve(s, [other.id], reviewer="alice", now=T0)
    token = token_in_raw(target.body.raw)
    http = client(console(db.engine, db.url))
    page = http.get(f"/unsubscribe/{token}")
    assert page.status_code == 200 and "List-Unsubscribe" in page.text
    with Session(db.engine) as s:
        assert s.exec(select(Suppression)).all() == []  # a GET changes nothing
    for _ in range(2):  # idempotent
        done = http.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert done.status_code == 200 and "unsubscribed" in done.text
    with Session(db.engine) as s:
        email = s.get(Contact, target.contact_id).email
        assert [x.email for x in s.exec(select(Suppression))] == [email]
        assert s.get(Message, target.id).status == "cancelled"
        assert s.get(Message, other.id).status == "approved"
        enrollments = s.exec(select(Enrollment).where(Enrollment.contact_id == target.contact_id))
        assert {e.status for e in enrollments} == {"unsubscribed"}
        marks = s.exec(
            select(Event).where(Event.entity == "message", Event.action == "unsubscribed")
        ).all()
        assert [(e.entity_id, e.actor) for e in marks] == [
            (target.id, "recipient via one-click unsubscribe")
        ]


def test_unknown_or_malformed_tokens_get_the_same_plain_page(db) -> None:
    planned(db)
    http = client(console(db.engine, db.url))
    pages = [
        http.get("/unsubscribe/" + "A" * 43),
        http.get("/unsubscribe/short"),
        http.post("/unsubscribe/" + "B" * 43, data={"List-Unsubscribe": "One-Click"}),
        http.post("/unsubscribe/bad%20token", data={"List-Unsubscribe": "One-Click"}),
    ]
    assert {p.status_code for p in pages} == {404}
    assert len({p.text for p in pages}) == 1
    with Session(db.engine) as s:
        assert s.exec(select(Suppression)).all() == []


def test_a_re_render_for_another_day_keeps_the_letters_link(db) -> None:
    first = planned(db)[0]
    settings = sample_settings(db.url, public_url=PUBLIC)
    with session_scope(db.engine) as s:
        message = s.get(Message, first.id)
        loaded = load_campaign(s, campaign=get_campaign(s, slug="ccm-2010"))
        how = Replanning(
            loaded.spec, renderer_for(settings.templates_dir), settings, T_APPEAL, "test"
        )
        letter = how.render_again(
            s,
            message,
            loaded.spec.step("appeal"),
            s.get(Contact, message.contact_id),
            scheduled_for=message.scheduled_for + timedelta(days=7),
        )
    assert letter is not None and letter.raw != first.body.raw
    assert letter.unsubscribe_token == token_in_raw(first.body.raw) == token_in_raw(letter.raw)
    assert letter.columns()["unsubscribe_token_hash"] == first.unsubscribe_token_hash


def test_a_letter_with_attachments_carries_its_link_and_an_edit_keeps_both(db) -> None:
    """The appeal encloses a PDF letter and a fact sheet: the per-letter link and the files are
    in the same composed bytes (read back by the guard), under the hash a reviewer approves,
    and an edit recomposes the letter with both unchanged."""
    letters = [m for m in planned(db) if attachments_in(m.body.raw)]
    assert letters
    first = letters[0]
    token = token_in_raw(first.body.raw)
    parsed = message_from_bytes(first.body.raw, policy=default)
    assert parsed.get_content_type() == "multipart/mixed"
    assert f"<{PUBLIC}/unsubscribe/{token}>" in str(parsed["List-Unsubscribe"])
    assert str(parsed["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    files = describe(attachments_in(first.body.raw))
    assert {f.content_type for f in files} == {"application/pdf"} and len(files) == 2
    assert first.content_hash == hashlib.sha256(first.body.raw).hexdigest()
    settings = sample_settings(db.url, public_url=PUBLIC)
    with session_scope(db.engine) as s:
        done = edit(
            s,
            first.id,
            subject="Edited: " + first.subject,
            text=first.body.text,
            html=first.body.html,
            reviewer="alice",
            now=T_APPEAL,
            recompose=recomposer(settings),
        )
    assert done.changed
    with session_scope(db.engine) as s:
        review.approve(s, [first.id], reviewer="bob", now=T_APPEAL)
    with Session(db.engine) as s:
        edited = s.get(Message, first.id)
    assert token_in_raw(edited.body.raw) == token
    assert edited.unsubscribe_token_hash == first.unsubscribe_token_hash
    assert describe(attachments_in(edited.body.raw)) == files
    assert str(message_from_bytes(edited.body.raw, policy=default)["Subject"]).startswith(
        "Edited: "
    )
    assert (
        edited.approved_hash == edited.content_hash == hashlib.sha256(edited.body.raw).hexdigest()
    )
    assert edited.content_hash != first.content_hash
