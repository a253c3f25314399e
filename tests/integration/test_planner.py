"""Planning the sample campaign: what is due is queued once, rendered for its send day."""

from __future__ import annotations

import csv
import shutil
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlmodel import Session, select

from outreach.countdown import in_window, local_date
from outreach.lifecycle import set_enrollment_status, transition
from outreach.models import Contact, Enrollment, Event, Message, Step
from outreach.operations.campaigns import load_campaigns
from outreach.planner import plan
from outreach.repository.campaigns import sending_from_json
from outreach.states import EnrollmentStatus, MessageStatus
from tests.planning import SAMPLE_CAMPAIGN, SAMPLE_CONTACTS, load_sample, sample_settings

T_APPEAL = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)


def audience(step_tags: set[str] | None = None) -> set[str]:
    with SAMPLE_CONTACTS.open(encoding="utf-8-sig") as fh:
        out = set()
        for row in csv.DictReader(fh):
            tags = {t.strip() for t in row["tags"].split(";")}
            if "not-joined" in tags and (step_tags is None or step_tags & tags):
                out.add(row["email"].strip().lower())
        return out


def messages(session: Session, step_key: str | None = None) -> list[tuple[Message, Contact]]:
    q = select(Message, Contact).join(Contact, Contact.id == Message.contact_id)
    if step_key:
        q = q.join(Step, Step.id == Message.step_id).where(Step.key == step_key)
    return list(session.exec(q))


def test_appeal_is_queued_at_t_minus_100_and_only_once(db) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    early = plan(db.engine, now=datetime(2010, 4, 19, 12, 0, tzinfo=UTC), settings=settings)
    assert early.queued == 0
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.queued == len(audience()) > 30
    assert report.render_errors == []
    with Session(db.engine) as s:
        rows = messages(s, "appeal")
        assert {c.email for _, c in rows} == audience()
        geneva_0900 = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)  # 09:00 CEST
        window = sending_from_json({"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"})
        for m, c in rows:
            assert m.status == MessageStatus.PENDING_REVIEW
            assert m.scheduled_for >= geneva_0900
            assert in_window(m.scheduled_for, window, c.timezone or "Europe/Zurich")
            if in_window(geneva_0900, window, c.timezone or "Europe/Zurich"):
                assert m.scheduled_for == geneva_0900, c.email
            send_day = local_date(m.scheduled_for, "Europe/Zurich")
            assert m.rendered_for == send_day
            days = (date(2010, 8, 1) - send_day).days
            assert m.render_context["milestones"]["entry_into_force"]["days_until"] == days
            if send_day == date(2010, 4, 23):
                assert "100 days" in m.body.text or "100 jours" in m.body.text, c.email
            assert m.body.raw is not None and m.content_hash
        # the Geneva contacts go out exactly at 09:00 Geneva time
        assert sum(1 for m, _ in rows if m.scheduled_for == geneva_0900) >= 5
    again = plan(db.engine, now=T_APPEAL, settings=settings)
    assert again.queued == 0
    with Session(db.engine) as s:
        assert len(messages(s, "appeal")) == len(audience())


def test_meeting_invitation_on_a_saturday_goes_out_monday(db) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    report = plan(db.engine, now=datetime(2010, 10, 7, 12, 0, tzinfo=UTC), settings=settings)
    want = audience({"affected-state"})
    with Session(db.engine) as s:
        rows = messages(s, "msp-invitation")
        assert {c.email for _, c in rows} == want
        assert report.queued >= len(want)
        for m, c in rows:
            local = m.scheduled_for.astimezone(
                __import__("zoneinfo").ZoneInfo(c.timezone or "Europe/Zurich")
            )
            assert local.date() == date(2010, 10, 11), (c.email, local)  # Monday
            assert local.hour == 9 and local.minute == 0
            send_day = local_date(m.scheduled_for, "Europe/Zurich")
            days = (date(2010, 11, 8) - send_day).days
            assert m.render_context["milestones"]["first_msp"]["days_until"] == days
            if send_day == date(2010, 10, 11):
                assert days == 28
                assert "28" in m.body.text


def test_contact_in_ho_chi_minh_gets_its_own_window(db) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=datetime(2010, 10, 7, 12, 0, tzinfo=UTC), settings=settings)
    from zoneinfo import ZoneInfo

    with Session(db.engine) as s:
        rows = [(m, c) for m, c in messages(s) if c.timezone == "Asia/Ho_Chi_Minh"]
        assert rows
        for m, _c in rows:
            local = m.scheduled_for.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
            assert local.weekday() < 5 and 9 <= local.hour < 17, local
            # not just the Geneva moment converted: Monday 09:00 in Hanoi is Monday 02:00 UTC
            assert m.scheduled_for == datetime(2010, 10, 11, 2, 0, tzinfo=UTC)


def test_follow_up_only_after_the_appeal_was_sent_and_not_for_repliers(db) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_APPEAL, settings=settings)
    sent_at = datetime(2010, 4, 23, 7, 0, 5, tzinfo=UTC)
    with Session(db.engine) as s:
        rows = messages(s, "appeal")
        replied_contact = rows[0][1]
        for m, _c in rows[:3]:
            transition(s, m, MessageStatus.APPROVED, now=sent_at, actor="t")
            transition(s, m, MessageStatus.SENDING, now=sent_at, actor="t")
            transition(s, m, MessageStatus.SENT, now=sent_at, actor="t", sent_at=sent_at)
        enr = s.exec(select(Enrollment).where(Enrollment.contact_id == replied_contact.id)).one()
        set_enrollment_status(s, enr, EnrollmentStatus.REPLIED, now=sent_at, actor="t")
        replied_email = replied_contact.email
        s.commit()
    # 14 days after the send, the two non-repliers get a follow-up, nobody else
    report = plan(db.engine, now=sent_at + timedelta(days=12), settings=settings)
    with Session(db.engine) as s:
        follow = messages(s, "appeal-follow-up")
        assert report.queued == len(follow) == 2
        assert replied_email not in {c.email for _, c in follow}
        for m, _ in follow:
            assert m.scheduled_for >= sent_at + timedelta(days=14)


def test_render_error_is_recorded_with_template_and_line(db, tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    (templates / "ccm").mkdir(parents=True)
    for f in (Path(__file__).resolve().parents[2] / "templates" / "ccm").iterdir():
        (templates / "ccm" / f.name).write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
    broken = templates / "ccm" / "appeal.j2"
    broken.write_text(
        "{% block subject %}Appeal{% endblock %}\n{% block text %}\nDear {{ contact.nickname }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    (templates / "ccm" / "appeal.fr.j2").unlink()
    settings = sample_settings(db.url, templates_dir=templates)
    load_sample(db.engine, settings, T_APPEAL)
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.render_errors
    assert report.queued == 0
    err = report.render_errors[0].error
    assert "ccm/appeal.j2" in err and "line 3" in err and "nickname" in err
    with Session(db.engine) as s:
        statuses = set(s.exec(select(Message.status)))
        assert statuses == {MessageStatus.RENDER_ERROR.value}
        assert all(m.body.raw is None for m, _ in messages(s))
    # fixed template: the next plan re-renders them into review
    broken.write_text(
        "{% block subject %}Appeal{% endblock %}\n{% block text %}\nDear {{ contact.name }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.render_errors == []
    with Session(db.engine) as s:
        assert set(s.exec(select(Message.status))) == {MessageStatus.PENDING_REVIEW.value}


def test_planning_is_a_bounded_number_of_statements(sqlite_db, tmp_path: Path) -> None:
    settings = sample_settings(sqlite_db.url)
    # the sample without its PDF letter: 1,000 letters printed would take minutes, and the
    # statements counted here do not depend on what a letter carries
    shutil.copytree(SAMPLE_CAMPAIGN.parent, tmp_path / "campaigns")
    campaign = tmp_path / "campaigns" / SAMPLE_CAMPAIGN.name
    campaign.write_text(
        campaign.read_text("utf-8").replace('letter = "ccm/appeal_letter"', ""), "utf-8"
    )
    load_campaigns(sqlite_db.engine, campaign, settings=settings, now=T_APPEAL, actor="t")
    csv_path = tmp_path / "many.csv"
    with csv_path.open("w", encoding="utf-8") as fh:
        fh.write("email,name,language,timezone,tags\n")
        for i in range(1000):
            fh.write(
                f"person{i}@example.org,Person {i},{'fr' if i % 3 == 0 else 'en'},Europe/Zurich,not-joined\n"
            )
    from outreach.operations.contacts import import_contacts

    import_contacts(sqlite_db.engine, csv_path, now=T_APPEAL)
    count = {"n": 0}

    @event.listens_for(sqlite_db.engine, "before_cursor_execute")
    def _count(*_a):  # type: ignore[no-untyped-def]
        count["n"] += 1

    report = plan(sqlite_db.engine, now=T_APPEAL, settings=settings)
    assert report.queued == 1000
    assert count["n"] < 60, count["n"]


def _plan_fingerprint(engine: sa.Engine) -> list[tuple]:
    """What planning stored, without what differs from run to run (ids, Message-IDs)."""
    from email import policy
    from email.parser import BytesParser

    out = []
    with Session(engine) as s:
        for m, c in messages(s):
            parsed = BytesParser(policy=policy.default).parsebytes(m.body.raw or b"")
            assert parsed["Message-ID"] == m.message_id
            assert [a.addr_spec for a in parsed["To"].addresses] == [c.email]
            out.append(
                (
                    c.email,
                    m.step_id,
                    m.status,
                    m.subject,
                    m.body.text,
                    m.body.html,
                    m.scheduled_for,
                    m.rendered_for,
                    m.render_context,
                    parsed.get_body(("plain",)).get_content(),
                )
            )
        events = s.exec(select(Event).where(Event.entity == "message")).all()
        assert len(events) == len(out)
    return sorted(out, key=repr)


def test_worker_processes_plan_exactly_what_one_process_plans(tmp_path: Path) -> None:
    from outreach.db import create_engine, migrate

    results = []
    for workers in (0, 2):
        url = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        engine = create_engine(url)
        migrate(engine)
        settings = sample_settings(url)
        load_sample(engine, settings, T_APPEAL)
        report = plan(engine, now=T_APPEAL, settings=settings, batch=7, workers=workers)
        assert report.queued == len(audience()) and not report.render_errors
        results.append(_plan_fingerprint(engine))
        engine.dispose()
    assert results[0] == results[1] and len(results[0]) > 30


def test_two_planners_racing_queue_each_message_once(pg_db) -> None:
    settings = sample_settings(pg_db.url)
    load_sample(pg_db.engine, settings, T_APPEAL)
    barrier = threading.Barrier(2)
    errors = []

    def run() -> None:
        try:
            barrier.wait()
            plan(pg_db.engine, now=T_APPEAL, settings=settings, batch=5)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with pg_db.engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM message")).scalar()
        dup = conn.execute(
            sa.text(
                "SELECT count(*) FROM (SELECT step_id, contact_id FROM message GROUP BY 1, 2 HAVING count(*) > 1) d"
            )
        ).scalar()
        created = conn.execute(
            sa.text("SELECT count(*) FROM event WHERE action = 'planned'")
        ).scalar()
    assert n == len(audience()) and dup == 0
    assert created == n  # one creation event per row, none for the loser's skipped inserts


def test_a_large_pass_refreshes_the_message_statistics_on_postgres(pg_db, monkeypatch) -> None:
    """A pass that inserts at least ANALYZE_AFTER_ROWS messages (and more than a tenth of what
    the statistics knew) analyses the message table: the dispatcher's claim then walks its
    index instead of sorting every due row. A small pass (the early one here) does not."""
    from outreach.repository import planning

    monkeypatch.setattr(planning, "ANALYZE_AFTER_ROWS", 10)
    settings = sample_settings(pg_db.url)
    load_sample(pg_db.engine, settings, T_APPEAL)

    def known_rows() -> float:
        with pg_db.engine.connect() as conn:
            query = "SELECT reltuples FROM pg_class WHERE oid = 'message'::regclass"
            return conn.execute(sa.text(query)).scalar()

    assert known_rows() <= 0  # never analysed
    assert (
        plan(pg_db.engine, now=datetime(2010, 4, 19, 12, tzinfo=UTC), settings=settings).queued == 0
    )
    assert known_rows() <= 0
    report = plan(pg_db.engine, now=T_APPEAL, settings=settings)
    assert report.queued >= 10
    assert known_rows() == report.queued
    with Session(pg_db.engine) as s:  # what the next pass would add is under a tenth: no ANALYZE
        assert not planning.refresh_statistics(s, inserted=report.queued // 10)
        assert planning.refresh_statistics(s, inserted=report.queued // 10 + 10)


def test_reload_replans_changed_unsent_messages_and_keeps_sent(db, tmp_path: Path) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_APPEAL, settings=settings)
    with Session(db.engine) as s:
        rows = messages(s, "appeal")
        sent, _ = rows[0]
        transition(s, sent, MessageStatus.APPROVED, now=T_APPEAL, actor="t")
        transition(s, sent, MessageStatus.SENDING, now=T_APPEAL, actor="t")
        transition(s, sent, MessageStatus.SENT, now=T_APPEAL, actor="t", sent_at=T_APPEAL)
        approved, _ = rows[1]
        transition(s, approved, MessageStatus.APPROVED, now=T_APPEAL, actor="t")
        sent_text, sent_id, approved_id = sent.body.text, sent.id, approved.id
        s.commit()
    shutil.copytree(SAMPLE_CAMPAIGN.parent / "files", tmp_path / "files")  # what it attaches
    edited = tmp_path / "ccm-2010.toml"
    edited.write_text(
        SAMPLE_CAMPAIGN.read_text(encoding="utf-8").replace(
            "signatories = 106", "signatories = 107"
        ),
        encoding="utf-8",
    )
    loads = load_campaigns(db.engine, edited, settings=settings, now=T_APPEAL, actor="t")
    assert loads[0].result.action == "updated" and "vars" in loads[0].result.changes
    with Session(db.engine) as s:
        m_sent = s.get(Message, sent_id)
        assert m_sent.status == "sent" and m_sent.body.text == sent_text
        m_appr = s.get(Message, approved_id)
        assert m_appr.status == "pending_review"
        assert "107" in m_appr.body.text
        ev = s.exec(
            select(Event).where(Event.entity_id == approved_id, Event.action == "replanned")
        ).one()
        assert "campaign reloaded" in ev.reason and "text" in ev.reason


def test_stale_message_is_rerendered_for_its_new_day(db) -> None:
    """The dispatcher marks a letter stale when it would leave on another day; the next plan
    re-renders it for that day, so the reviewer approves what will be true when it leaves."""
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_APPEAL, settings=settings)
    later = datetime(2010, 4, 27, 6, 0, tzinfo=UTC)  # a Tuesday, before the window opens
    with Session(db.engine) as s:
        m = next(m for m, c in messages(s, "appeal") if c.timezone == "Europe/Zurich")
        old_hash, mid = m.content_hash, m.id
        transition(
            s,
            m,
            MessageStatus.PENDING_REVIEW,
            now=later,
            actor="dispatcher",
            action="stale",
            stale_reason="rendered for 2010-04-23, sent on 2010-04-27",
        )
        s.commit()
    plan(db.engine, now=later, settings=settings)
    with Session(db.engine) as s:
        m = s.get(Message, mid)
        assert m.status == "pending_review" and m.stale_reason is None  # the new text is shown
        assert m.rendered_for == date(2010, 4, 27)
        assert m.scheduled_for == datetime(2010, 4, 27, 7, 0, tzinfo=UTC)
        assert m.content_hash != old_hash and m.approved_hash is None
        assert m.render_context["milestones"]["entry_into_force"]["days_until"] == 96
        assert "96 days" in m.body.text or "96 jours" in m.body.text
        ev = s.exec(select(Event).where(Event.entity_id == mid, Event.action == "rerendered")).one()
        assert "2010-04-27" in ev.reason
