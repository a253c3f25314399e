"""Review on a real database (SQLite and PostgreSQL): approve, reject, edit, list, show."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage

import pytest
from sqlmodel import Session, col, select

from outreach import review
from outreach.db import session_scope
from outreach.errors import HeaderInjectionError, IllegalTransition, NotFoundError, ReviewError
from outreach.htmltext import html_to_text
from outreach.lifecycle import transition
from outreach.models import Approval, Event, Message, MessageBody
from outreach.states import MessageStatus
from tests.factories import T0, make_campaign, make_contact, make_message, make_step

LATER = T0 + timedelta(hours=1)


def fake_recompose(session, message, subject, text, html):
    """Stands in for the planner's recompose_message: deterministic bytes from the content."""
    raw = f"Subject: {subject}\r\n\r\n{text}\r\n{html or ''}".encode()
    return raw, hashlib.sha256(raw).hexdigest()


def composed(*, subject: str = "100 days to go", html: str | None = None) -> bytes:
    msg = EmailMessage(policy=policy.SMTP)
    msg["From"] = "Cluster Munition Coalition <outreach@example.org>"
    msg["To"] = "Minister Example <minister@example.org>"
    msg["Reply-To"] = "replies@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 10 May 2010 09:00:00 +0200"
    msg["Message-ID"] = "<abc123@example.org>"
    msg["List-Unsubscribe"] = "<mailto:outreach@example.org?subject=unsubscribe>"
    msg.set_content("Dear Minister,\n\n100 days remain.\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def seed(db, *, approvals_required: int = 1, n: int = 1, **message_kw) -> list[int]:
    with session_scope(db.engine) as s:
        camp = make_campaign(s, "ccm", approvals_required=approvals_required)
        step = make_step(s, camp)
        ids = []
        for i in range(n):
            contact = make_contact(s, f"person{i}@example.org", timezone="America/New_York")
            m = make_message(
                s,
                campaign=camp,
                step=step,
                contact=contact,
                scheduled_for=T0 + timedelta(days=n - i),
                **message_kw,
            )
            ids.append(m.id)
    return ids


def load(db, mid: int) -> Message:
    with Session(db.engine) as s:
        m = s.get(Message, mid)
        assert m is not None
        return m


def approvals_of(db, mid: int) -> list[Approval]:
    with Session(db.engine) as s:
        return list(s.exec(select(Approval).where(Approval.message_id == mid)).all())


def events_of(db, mid: int) -> list[Event]:
    with Session(db.engine) as s:
        return list(
            s.exec(
                select(Event)
                .where(Event.entity == "message", Event.entity_id == mid)
                .order_by(col(Event.id))
            ).all()
        )


def test_approve_records_hash_and_moves_to_approved(db) -> None:
    (mid,) = seed(db)
    before = load(db, mid)
    with session_scope(db.engine) as s:
        (result,) = review.approve(s, [mid], reviewer="alice", note="fine", now=LATER)
    assert result.approved and result.approvals == ("alice",)
    after = load(db, mid)
    assert after.status == "approved"
    assert after.approved_hash == before.content_hash == hashlib.sha256(after.body.raw).hexdigest()
    assert after.due_at == after.scheduled_for
    (approval,) = approvals_of(db, mid)
    assert (approval.reviewer, approval.content_hash, approval.note, approval.at) == (
        "alice",
        before.content_hash,
        "fine",
        LATER,
    )
    last = events_of(db, mid)[-1]
    assert (last.action, last.from_state, last.to_state, last.actor) == (
        "approved",
        "pending_review",
        "approved",
        "alice",
    )
    assert last.data["reviewers"] == ["alice"] and last.data["hash"] == before.content_hash
    assert review.is_still_approved(after)


def test_two_reviewers_needed_and_edit_clears_approvals(db) -> None:
    (mid,) = seed(db, approvals_required=2)
    with session_scope(db.engine) as s:
        (first,) = review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    assert not first.approved
    assert load(db, mid).status == "pending_review"
    assert events_of(db, mid)[-1].action == "partially_approved"

    with session_scope(db.engine) as s:
        edited = review.edit(
            s,
            mid,
            subject="100 days to go",
            text="Dear Minister,\nOnly 100 days remain.\n",
            html=None,
            reviewer="bob",
            now=LATER,
            recompose=fake_recompose,
        )
    assert edited.changed and edited.cleared_approvals == ("alice",)
    m = load(db, mid)
    assert m.status == "pending_review" and m.edited is True
    assert m.content_hash == edited.new_hash != edited.old_hash
    assert approvals_of(db, mid) == []
    event = events_of(db, mid)[-1]
    assert (event.action, event.actor) == ("edited", "bob")
    assert "+Only 100 days remain." in event.data["diff"]
    assert "-hello" in event.data["diff"]
    with Session(db.engine) as s:
        (item,) = review.list_pending(s)
    assert item.approvals == () and item.edited

    # after the edit, alice's earlier approval does not count: two fresh approvals needed
    with session_scope(db.engine) as s:
        (again,) = review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    assert not again.approved
    with session_scope(db.engine) as s:
        (second,) = review.approve(s, [mid], reviewer="bob", note="ok", now=LATER)
    assert second.approved and second.approvals == ("alice", "bob")
    m = load(db, mid)
    assert m.status == "approved" and m.approved_hash == edited.new_hash
    assert review.is_still_approved(m)


def test_same_reviewer_twice_is_refused(db) -> None:
    (mid,) = seed(db, approvals_required=2)
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    with (
        pytest.raises(ReviewError, match=f"reviewer alice already approved message {mid}"),
        session_scope(db.engine) as s,
    ):
        review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    assert len(approvals_of(db, mid)) == 1
    assert load(db, mid).status == "pending_review"


def test_edit_back_to_the_old_content_needs_fresh_approvals(db) -> None:
    (mid,) = seed(db, approvals_required=2)
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    for text in ("changed\n", "hello"):
        with session_scope(db.engine) as s:
            review.edit(
                s,
                mid,
                subject="hi",
                text=text,
                html=None,
                reviewer="bob",
                now=LATER,
                recompose=fake_recompose,
            )
    with Session(db.engine) as s:
        assert review.list_pending(s)[0].approvals == ()


def test_edit_of_an_approved_message_sends_it_back_to_review(db) -> None:
    (mid,) = seed(db)
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    with session_scope(db.engine) as s:
        review.edit(
            s,
            mid,
            subject="New subject",
            text="hello",
            html="<p>hello</p>",
            reviewer="alice",
            now=LATER,
            recompose=fake_recompose,
        )
    m = load(db, mid)
    assert (m.status, m.approved_hash, m.subject, m.body.html) == (
        "pending_review",
        None,
        "New subject",
        "<p>hello</p>",
    )
    assert not review.is_still_approved(m)
    assert events_of(db, mid)[-1].from_state == "approved"


def test_edit_without_change_writes_nothing_and_bad_subject_is_refused(db) -> None:
    (mid,) = seed(db)
    n_events = len(events_of(db, mid))
    with session_scope(db.engine) as s:
        result = review.edit(
            s,
            mid,
            subject="hi",
            text="hello",
            html=None,
            reviewer="bob",
            now=LATER,
            recompose=fake_recompose,
        )
    assert not result.changed
    assert len(events_of(db, mid)) == n_events and load(db, mid).edited is False
    with (
        pytest.raises(HeaderInjectionError, match="subject: contains a line break"),
        session_scope(db.engine) as s,
    ):
        review.edit(
            s, mid, subject="x\r\nBcc: a@example.org", text="t", html=None,
            reviewer="bob", now=LATER, recompose=fake_recompose,
        )  # fmt: skip


@pytest.mark.parametrize("bad", ["missing", "approved", "rejected"])
def test_approve_batch_is_all_or_nothing(db, bad: str) -> None:
    ids = seed(db, n=3)
    if bad == "missing":
        target = max(ids) + 1000
        error = NotFoundError
        text = f"message {target} does not exist"
    else:
        target = ids[1]
        with session_scope(db.engine) as s:
            m = s.get(Message, target)
            m.status = bad
        error, text = ReviewError, f"message {target} is {bad}, not pending_review"
    events_before = {mid: len(events_of(db, mid)) for mid in ids}
    batch = [ids[0], target, ids[2]]
    with pytest.raises(error, match=text) as info, session_scope(db.engine) as s:
        review.approve(s, batch, reviewer="alice", note=None, now=LATER)
    assert "nothing was approved" in str(info.value) and "\n" not in str(info.value)
    for mid in (ids[0], ids[2]):
        assert load(db, mid).status == "pending_review"
        assert approvals_of(db, mid) == []
    assert {mid: len(events_of(db, mid)) for mid in ids} == events_before


def test_reject_needs_a_reason_and_a_rejected_message_never_sends(db) -> None:
    a, b = seed(db, n=2)
    with pytest.raises(ReviewError, match="reason is required"), session_scope(db.engine) as s:
        review.reject(s, [a], reviewer="alice", reason="  ", now=LATER)
    assert load(db, a).status == "pending_review"
    with pytest.raises(NotFoundError, match="nothing was rejected"), session_scope(db.engine) as s:
        review.reject(s, [a, 99999], reviewer="alice", reason="tone", now=LATER)
    assert load(db, a).status == "pending_review"

    with session_scope(db.engine) as s:
        review.reject(s, [a, b], reviewer="alice", reason="wrong minister", now=LATER)
    m = load(db, a)
    assert m.status == "rejected"
    event = events_of(db, a)[-1]
    assert (event.action, event.reason, event.actor) == ("rejected", "wrong minister", "alice")
    with Session(db.engine) as s:
        m = s.get(Message, a)
        for target in (MessageStatus.SENDING, MessageStatus.APPROVED, MessageStatus.SENT):
            with pytest.raises(IllegalTransition):
                transition(s, m, target, now=LATER, actor="dispatcher")
    assert load(db, a).status == "rejected"
    with pytest.raises(ReviewError, match="is rejected"), session_scope(db.engine) as s:
        review.approve(s, [a], reviewer="bob", note=None, now=LATER)


def test_tampered_bytes_are_not_approvable_nor_still_approved(db) -> None:
    (mid,) = seed(db)
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer="alice", note=None, now=LATER)
    m = load(db, mid)
    assert review.is_still_approved(m)
    m.body.raw = m.body.raw + b"P.S. injected\r\n"
    assert not review.is_still_approved(m)
    (other,) = seed_more(db)
    with session_scope(db.engine) as s:
        s.get(Message, other).body.raw = b"Subject: changed behind our back\r\n\r\nx\r\n"
    with pytest.raises(ReviewError, match="do not match"), session_scope(db.engine) as s:
        review.approve(s, [other], reviewer="alice", note=None, now=LATER)


def seed_more(db) -> list[int]:
    with session_scope(db.engine) as s:
        return [make_message(s).id]


def test_concurrent_approvals_both_count(db) -> None:
    """Two reviewers approve the same message at the same moment; each holds its transaction
    open a while after approving. Both approvals count and the message is approved."""
    (mid,) = seed(db, approvals_required=2)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def reviewer(name: str) -> None:
        try:
            with Session(db.engine) as s:
                barrier.wait(timeout=10)
                review.approve(s, [mid], reviewer=name, note=None, now=LATER)
                time.sleep(0.3)  # the other reviewer is inside approve() by now
                s.commit()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reviewer, args=(n,)) for n in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert sorted(a.reviewer for a in approvals_of(db, mid)) == ["alice", "bob"]
    m = load(db, mid)
    assert m.status == "approved" and m.approved_hash == m.content_hash
    actions = [e.action for e in events_of(db, mid)]
    assert actions.count("partially_approved") == 1 and actions.count("approved") == 1


def test_list_pending_order_timezones_and_marks(db) -> None:
    ids = seed(db, n=3, approvals_required=2)
    with session_scope(db.engine) as s:
        s.get(Message, ids[0]).stale_reason = "re-rendered for 2010-04-21: countdown differs"
        review.approve(s, [ids[1]], reviewer="alice", note=None, now=LATER)
        review.reject(s, [ids[2]], reviewer="alice", reason="no", now=LATER)
    with Session(db.engine) as s:
        items = review.list_pending(s)
        assert review.list_pending(s, campaign="ccm") == items
        with pytest.raises(NotFoundError, match="nosuch"):
            review.list_pending(s, campaign="nosuch")
    # seed schedules message i at T0 + (n - i) days: ids[1] is older than ids[0]
    assert [i.id for i in items] == [ids[1], ids[0]]
    older, stale = items
    assert older.approvals == ("alice",) and older.approvals_required == 2
    assert not older.stale and stale.stale and "countdown" in stale.stale_reason
    when = datetime.fromisoformat(older.scheduled_for_utc)
    assert when == T0 + timedelta(days=2) and when.utcoffset() == timedelta(0)
    local = datetime.fromisoformat(older.scheduled_for_campaign)
    assert local == when and local.utcoffset() == timedelta(hours=2)  # Geneva, summer
    recipient = datetime.fromisoformat(older.scheduled_for_recipient)
    assert recipient == when and recipient.utcoffset() == timedelta(hours=-4)  # New York, EDT
    assert (older.campaign_timezone, older.recipient_timezone) == (
        "Europe/Geneva",
        "America/New_York",
    )


def test_show_parses_the_stored_bytes(db) -> None:
    html = (
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Dear Minister,</p><p>100 days&nbsp;remain.<br>Sincerely</p>"
        '<p><a href="https://example.org/u">unsubscribe</a></p></body></html>'
    )
    raw = composed(html=html)
    (mid,) = seed(
        db,
        raw=raw,
        content_hash=hashlib.sha256(raw).hexdigest(),
        template="ccm/appeal",
        language="fr",
        render_context={"days_until": 100},
    )
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer="alice", note="ok", now=LATER)
    with Session(db.engine) as s:
        detail = review.show(s, mid)
        with pytest.raises(NotFoundError, match="message 424242 does not exist"):
            review.show(s, 424242)
    headers = dict(detail.headers)
    assert [name for name, _ in detail.headers] == list(review.SHOWN_HEADERS)
    assert headers["Subject"] == "100 days to go"
    assert headers["To"] == "Minister Example <minister@example.org>"
    assert headers["Date"] == "Mon, 10 May 2010 09:00:00 +0200"
    assert "100 days remain." in detail.text
    assert detail.html_text is not None
    assert detail.html_text.splitlines() == [
        "Dear Minister,",
        "",
        "100 days\xa0remain.",
        "Sincerely",
        "",
        "unsubscribe <https://example.org/u>",
    ]
    assert "color" not in detail.html_text
    assert (detail.template, detail.language, detail.render_context) == (
        "ccm/appeal",
        "fr",
        {"days_until": 100},
    )
    assert [h.action for h in detail.history][-1] == "approved"
    assert detail.approvals == ("alice",)


def test_approve_all_and_counts(db) -> None:
    ids = seed(db, n=2, approvals_required=2)
    with session_scope(db.engine) as s:
        other = make_campaign(s, "other")
        extra = make_message(s, campaign=other).id
        review.approve(s, [ids[0]], reviewer="alice", note=None, now=LATER)
    with Session(db.engine) as s:
        assert review.count_pending_by_campaign(s) == {"ccm": 2, "other": 1}
        assert review.count_pending_by_campaign(s, reviewer="alice") == {"ccm": 1, "other": 1}
        assert review.count_pending_by_campaign(s, campaign="other") == {"other": 1}
    with session_scope(db.engine) as s:
        done = review.approve_all(s, campaign="ccm", reviewer="alice", note=None, now=LATER)
    assert [r.id for r in done] == [ids[1]]
    assert load(db, extra).status == "pending_review"
    with session_scope(db.engine) as s:
        assert review.approve_all(s, campaign="ccm", reviewer="alice", now=LATER) == []


def test_list_queue_filters(db) -> None:
    a, b = seed(db, n=2)
    with session_scope(db.engine) as s:
        review.approve(s, [a], reviewer="alice", note=None, now=LATER)
        m = s.get(Message, b)
        m.smtp_code, m.smtp_response, m.attempts = 451, "4.7.1 try later", 2
    with Session(db.engine) as s:
        everything = review.list_queue(s)
        approved = review.list_queue(s, status=MessageStatus.APPROVED)
        one = review.list_queue(s, limit=1)
    assert {i.id for i in everything} == {a, b}
    assert [i.id for i in approved] == [a]
    assert len(one) == 1 and one[0].id == b  # b is scheduled first
    assert (one[0].smtp_code, one[0].smtp_response, one[0].attempts) == (451, "4.7.1 try later", 2)


def test_html_to_text_keeps_breaks_and_drops_scripts() -> None:
    text = html_to_text(
        "<div>One<br/>Two</div><script>alert(1)</script><ul><li>a</li><li>b &amp; c</li></ul>"
    )
    assert text.splitlines() == ["One", "Two", "", "- a", "- b & c"]


def test_auto_approve_note_names_the_setting() -> None:
    assert "require_approval = false" in review.auto_approve_note()


def test_is_still_approved_is_pure() -> None:
    raw = b"Subject: x\r\n\r\ny\r\n"
    digest = hashlib.sha256(raw).hexdigest()
    base = dict(
        campaign_id=1, step_id=1, contact_id=1, message_id="<x@example.org>",
        scheduled_for=T0, created_at=T0, updated_at=T0, body=MessageBody(raw=raw),
    )  # fmt: skip
    ok = Message(**base, status="approved", content_hash=digest, approved_hash=digest)
    assert review.is_still_approved(ok)
    assert not review.is_still_approved(
        Message(**base, status="pending_review", content_hash=digest, approved_hash=digest)
    )
    assert not review.is_still_approved(
        Message(**base, status="approved", content_hash="0" * 64, approved_hash=digest)
    )
    assert not review.is_still_approved(
        Message(**base, status="approved", content_hash=digest, approved_hash=None)
    )
