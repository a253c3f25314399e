"""Reply intake against real databases (SQLite and PostgreSQL): storage, matching, rule 4."""

from __future__ import annotations

import mailbox
import time
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from outreach.models import Event
from outreach.replies import store as store_module
from outreach.replies.classify import matching_keys
from outreach.replies.intake import import_paths, list_replies
from outreach.replies.match import match, match_many
from outreach.replies.parse import parse_inbound
from tests.integration.intake_kit import (
    CORPUS,
    NOW,
    SENT_AT,
    build_world,
    dsn,
    enrollment,
    inbound_rows,
    reply,
    run,
    settings_for,
    status_of,
    suppressed,
)

# --- rule 4 -----------------------------------------------------------------------------------


def test_human_reply_cancels_that_contacts_follow_up_only(db) -> None:
    w = build_world(db.engine)
    report = run(db, reply(w.a_email, in_reply_to=w.a_appeal))
    assert (report.processed, report.duplicates, report.unmatched) == (1, 0, 0)
    assert report.by_class == {"human": 1}
    assert status_of(db, w.a_follow) == "cancelled"
    assert status_of(db, w.b_follow) == "approved"  # the other contact's follow-up still goes out
    assert status_of(db, w.a_other) == "pending_review"  # another campaign: not this reply's
    assert enrollment(db, w.campaign_id, w.a_contact) == "replied"
    assert enrollment(db, w.campaign_id, w.b_contact) == "active"
    assert enrollment(db, w.other_campaign_id, w.a_contact) == "active"
    assert suppressed(db) == {}
    [row] = inbound_rows(db)
    assert (row.classification, row.match_method, row.contact_id) == (
        "human",
        "in_reply_to",
        w.a_contact,
    )
    assert row.snippet == "Thank you, we will raise this with the minister."
    assert "Dear Ambassador" not in (row.snippet or "")
    with Session(db.engine) as s:
        events = {
            (e.entity, e.entity_id, e.action, e.reason)
            for e in s.exec(select(Event).where(Event.actor == "replies"))
        }
    assert ("message", w.a_follow, "cancelled", "replied") in events
    assert ("inbound", row.id, "received", "a person's reply") in events
    assert any(e[0] == "enrollment" and e[2] == "replied" for e in events)


def test_out_of_office_cancels_nothing(db) -> None:
    w = build_world(db.engine)
    ooo = reply(
        w.a_email,
        in_reply_to=w.a_appeal,
        subject="Automatic reply: The appeal",
        body="I am out of the office until 3 May.",
        headers="Auto-Submitted: auto-replied",
    )
    report = run(db, ooo)
    assert report.by_class == {"auto_reply": 1}
    assert status_of(db, w.a_follow) == "approved"
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    [row] = inbound_rows(db)
    assert row.match_method == "in_reply_to" and row.contact_id == w.a_contact


def test_hard_bounce_suppresses_and_cancels_everything_for_the_address(db) -> None:
    w = build_world(db.engine)
    report = run(db, dsn(w.a_email, "5.1.1", original_id=w.a_appeal))
    assert report.by_class == {"bounce_hard": 1}
    assert suppressed(db) == {w.a_email: "bounce_hard"}
    assert enrollment(db, w.campaign_id, w.a_contact) == "bounced"
    assert enrollment(db, w.other_campaign_id, w.a_contact) == "bounced"
    assert status_of(db, w.a_follow) == "cancelled"
    assert status_of(db, w.a_other) == "cancelled"
    assert status_of(db, w.b_follow) == "approved"
    [row] = inbound_rows(db)
    assert (row.match_method, row.bounce_status) == ("dsn_message_id", "5.1.1")


def test_bounce_without_original_id_matches_by_final_recipient(db) -> None:
    w = build_world(db.engine)
    run(db, dsn(w.b_email.upper(), "5.1.1", original_id=None))
    [row] = inbound_rows(db)
    assert (row.classification, row.match_method, row.contact_id) == (
        "bounce_hard",
        "dsn_recipient",
        w.b_contact,
    )
    assert suppressed(db) == {w.b_email: "bounce_hard"}


def test_unmatched_hard_bounce_still_suppresses_the_address(db) -> None:
    build_world(db.engine)
    report = run(db, dsn("stranger@example.net", "5.1.1", original_id="<nope@example.org>"))
    assert report.unmatched == 1
    assert suppressed(db) == {"stranger@example.net": "bounce_hard"}


def test_unsubscribe_suppresses_and_cancels(db) -> None:
    w = build_world(db.engine)
    report = run(
        db,
        reply(w.b_email, in_reply_to=w.b_appeal, body="Please remove me from this mailing list."),
    )
    assert report.by_class == {"unsubscribe": 1}
    assert suppressed(db) == {w.b_email: "unsubscribe"}
    assert enrollment(db, w.campaign_id, w.b_contact) == "unsubscribed"
    assert status_of(db, w.b_follow) == "cancelled"
    assert status_of(db, w.a_follow) == "approved"


def test_policy_rejection_5_7_1_does_not_suppress(db) -> None:
    w = build_world(db.engine)
    report = run(
        db,
        dsn(
            w.a_email,
            "5.7.1",
            original_id=w.a_appeal,
            diagnostic="550 5.7.1 Message rejected as spam",
        ),
    )
    assert report.by_class == {"rejected": 1}
    assert suppressed(db) == {}
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"
    assert status_of(db, w.a_follow) == "approved"


def test_soft_bounces_are_recorded_and_three_in_a_row_count_as_hard(db) -> None:
    w = build_world(db.engine)
    soft = [
        dsn(
            w.a_email,
            "4.2.2",
            original_id=w.a_appeal,
            diagnostic=f"452 4.2.2 mailbox full {i}",
            message_id=f"<soft{i}@mx.example.org>",
        )
        for i in range(3)
    ]
    first = run(db, soft[0])
    # a human reply in between breaks the series
    run(db, reply(w.b_email, in_reply_to=w.b_appeal), soft[1])
    assert first.by_class == {"bounce_soft": 1}
    assert suppressed(db) == {}
    assert status_of(db, w.a_follow) == "approved"
    third = run(db, soft[2])
    assert third.by_class == {"bounce_hard": 1}
    assert suppressed(db) == {w.a_email: "bounce_hard"}
    assert status_of(db, w.a_follow) == "cancelled"
    assert "third soft bounce" in (inbound_rows(db)[-1].reason or "")


def test_human_reply_breaks_a_soft_bounce_series(db) -> None:
    w = build_world(db.engine)
    mk = lambda i: dsn(  # noqa: E731
        w.a_email, "4.4.1", original_id=w.a_appeal, action="delayed", message_id=f"<d{i}@mx>"
    )
    # in one batch: soft, soft, human, soft -> never three in a row
    run(db, mk(1), mk(2), reply(w.a_email, in_reply_to=w.a_appeal, body="Noted."), mk(3))
    assert [r.classification for r in inbound_rows(db)] == [
        "bounce_soft",
        "bounce_soft",
        "human",
        "bounce_soft",
    ]
    assert suppressed(db) == {}


# --- duplicates --------------------------------------------------------------------------------


def test_same_bytes_twice_changes_nothing(db) -> None:
    w = build_world(db.engine)
    raw = reply(w.a_email, in_reply_to=w.a_appeal)
    first = run(db, raw)
    with Session(db.engine) as s:
        events = s.exec(select(sa.func.count()).select_from(Event)).one()
    second = run(db, raw)
    assert (first.processed, second.processed, second.duplicates) == (1, 0, 1)
    with Session(db.engine) as s:
        assert s.exec(select(sa.func.count()).select_from(Event)).one() == events
    assert len(inbound_rows(db)) == 1


def test_same_message_id_with_other_bytes_is_a_duplicate(db) -> None:
    w = build_world(db.engine)
    raw = reply(w.a_email, in_reply_to=w.a_appeal, message_id="<same@example.net>")
    relayed = b"Received: from relay.example.net by mx.example.org\r\n" + raw
    report = run(db, raw, relayed, raw)  # in one batch
    again = run(db, relayed)  # and across runs
    assert (report.processed, report.duplicates) == (1, 2)
    assert (again.processed, again.duplicates) == (0, 1)
    assert len(inbound_rows(db)) == 1


# --- matching ----------------------------------------------------------------------------------


def test_references_and_sender_matching(db) -> None:
    w = build_world(db.engine)
    run(
        db,
        reply(w.a_email, references=f"<older@example.org> {w.a_appeal}", body="Via references."),
        reply(w.b_email, body="No threading headers at all, but I got your letter."),
    )
    rows = inbound_rows(db)
    assert [(r.match_method, r.contact_id) for r in rows] == [
        ("references", w.a_contact),
        ("sender", w.b_contact),
    ]
    assert status_of(db, w.b_follow) == "cancelled"


def test_sender_match_only_within_the_recency_window(db) -> None:
    w = build_world(db.engine)
    late = SENT_AT + timedelta(days=181)
    report = run(db, reply(w.b_email, body="Sorry for the late answer."), now=late)
    assert report.unmatched == 1
    assert status_of(db, w.b_follow) == "approved"


def test_match_and_match_many_functions(db) -> None:
    w = build_world(db.engine)
    with Session(db.engine) as s:
        p = parse_inbound(reply(w.a_email, in_reply_to=w.a_appeal))
        single = match(s, matching_keys(p), now=NOW)
        assert (single.method, single.contact_id, single.campaign_id) == (
            "in_reply_to",
            w.a_contact,
            w.campaign_id,
        )
        assert single.message is not None and single.message.message_id == w.a_appeal
        from outreach.replies.match import lookup_for

        lookups = [
            lookup_for(parse_inbound(reply(e, body=e))) for e in (w.b_email, "x@example.net")
        ]
        results = match_many(s, lookups, now=NOW)
        assert [r.method for r in results] == ["sender", None]


def test_unmatched_mail_is_kept_and_listed(db) -> None:
    w = build_world(db.engine)
    report = run(
        db,
        reply("stranger@example.net", body="Who are you?", subject="Question"),
        reply(w.a_email, in_reply_to=w.a_appeal),
    )
    assert (report.processed, report.unmatched) == (2, 1)
    with Session(db.engine) as s:
        unmatched = list_replies(s, unmatched=True)
        everything = list_replies(s)
        in_campaign = list_replies(s, campaign="ccm-2010")
        humans = list_replies(s, classification="human")
    assert [i.from_addr for i in unmatched] == ["stranger@example.net"]
    assert unmatched[0].contact is None and unmatched[0].snippet == "Who are you?"
    assert len(everything) == 2 and len(humans) == 2
    [matched] = in_campaign
    assert (matched.contact, matched.campaign, matched.step, matched.matched_subject) == (
        w.a_email,
        "ccm-2010",
        "appeal",
        "The appeal",
    )
    assert matched.matched_message_id == w.a_appeal


def test_oversize_is_stored_raw_and_processed_no_further(db) -> None:
    w = build_world(db.engine)
    big = reply(w.a_email, in_reply_to=w.a_appeal, body="x" * 5000)
    report = run(db, big, settings=settings_for(db.url, inbound_max_bytes=1024))
    assert report.by_class == {"oversize": 1}
    [row] = inbound_rows(db)
    assert row.raw == big and row.raw_size == len(big)
    assert status_of(db, w.a_follow) == "approved"
    assert enrollment(db, w.campaign_id, w.a_contact) == "active"


def test_a_failing_batch_is_retried_one_by_one_and_nothing_is_lost(db, monkeypatch) -> None:
    w = build_world(db.engine)
    real = store_module.apply_effects

    def flaky(session, stored, **kw):  # type: ignore[no-untyped-def]
        if any(item.parsed.subject == "Re: boom" for _, item, _, _ in stored):
            raise RuntimeError("simulated failure")
        return real(session, stored, **kw)

    monkeypatch.setattr(store_module, "apply_effects", flaky)
    report = run(
        db,
        reply(w.a_email, in_reply_to=w.a_appeal),
        reply(w.b_email, in_reply_to=w.b_appeal, subject="Re: boom"),
    )
    assert (report.processed, report.errors) == (2, 1)
    rows = inbound_rows(db)
    assert [r.classification for r in rows] == ["human", "unparseable"]
    assert "simulated failure" in (rows[1].error or "")
    assert status_of(db, w.a_follow) == "cancelled"
    assert status_of(db, w.b_follow) == "approved"


# --- files -------------------------------------------------------------------------------------


def test_import_corpus_from_eml_mbox_and_maildir(db, tmp_path: Path) -> None:
    files = sorted(CORPUS.glob("*/*.eml"))
    assert len(files) >= 30
    expected: dict[str, int] = {}
    for f in files:
        expected[f.parent.name] = expected.get(f.parent.name, 0) + 1
    half = len(files) // 2
    box = mailbox.mbox(tmp_path / "replies.mbox")
    for f in files[half : half + 5]:
        box.add(f.read_bytes())
    box.close()
    md = mailbox.Maildir(tmp_path / "Maildir")
    for f in files[half + 5 :]:
        md.add(f.read_bytes())
    settings = settings_for(db.url)
    seen = []
    report = import_paths(
        db.engine,
        [*files[:half], tmp_path / "replies.mbox", tmp_path / "Maildir"],
        settings=settings,
        now=NOW,
        batch=7,
        progress=seen.append,
    )
    assert report.processed == len(files) and report.duplicates == 0
    assert dict(report.by_class) == expected
    assert sum(seen) == len(files)
    # and again: nothing new, no matter the container
    again = import_paths(db.engine, files, settings=settings, now=NOW)
    assert (again.processed, again.duplicates) == (0, len(files))
    assert "0 new" in str(again) and f"{len(files)} duplicates" in str(again)


# --- scale -------------------------------------------------------------------------------------


def test_a_batch_takes_a_bounded_number_of_statements(sqlite_db) -> None:
    w = build_world(sqlite_db.engine)
    raws = [
        reply(
            w.a_email if i % 2 else w.b_email,
            in_reply_to=w.a_appeal if i % 2 else w.b_appeal,
            body=f"Reply number {i}.",
            message_id=f"<bulk{i}@example.net>",
        )
        for i in range(400)
    ]
    count = {"n": 0}

    @event.listens_for(sqlite_db.engine, "before_cursor_execute")
    def _count(*_a):  # type: ignore[no-untyped-def]
        count["n"] += 1

    started = time.perf_counter()
    report = run(sqlite_db, *raws, batch=400)
    elapsed = time.perf_counter() - started
    assert report.processed == 400
    assert count["n"] < 40, count["n"]
    assert elapsed < 10, elapsed
