"""Planning letters that carry attachments: the PDF letter is printed at plan time in the
recipient's language, the invitation carries the meeting as a calendar event, the files are
part of the approved hash (a file changed on disk sends the letter back to review), and a
letter over OUTREACH_MAX_MESSAGE_BYTES is refused at plan."""

from __future__ import annotations

import io
import shutil
from datetime import UTC, date, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

import pypdf
from icalendar import Calendar
from sqlmodel import Session, select

from outreach.attachments.listing import attachments_in
from outreach.compose import content_hash
from outreach.models import Contact, Event, Message, Milestone, Step
from outreach.operations.campaigns import load_campaigns
from outreach.planner import plan, recompose_message
from outreach.review.actions import approve
from outreach.states import MessageStatus
from tests.planning import SAMPLE_CAMPAIGN, load_sample, sample_settings

T_APPEAL = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
T_INVITATION = datetime(2010, 10, 7, 12, 0, tzinfo=UTC)


def sample_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "campaigns"
    shutil.copytree(SAMPLE_CAMPAIGN.parent, folder)
    return folder / SAMPLE_CAMPAIGN.name


def message_to(session: Session, email: str, step: str) -> Message:
    return session.exec(
        select(Message)
        .join(Contact, Contact.id == Message.contact_id)
        .join(Step, Step.id == Message.step_id)
        .where(Contact.email == email, Step.key == step)
    ).one()


def parsed(raw: bytes) -> EmailMessage:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    return message


def letter_text(raw: bytes) -> str:
    [pdf] = [a for a in attachments_in(raw) if a.content_type == "application/pdf"][:1]
    reader = pypdf.PdfReader(io.BytesIO(pdf.data))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def test_the_pdf_letter_greets_the_recipient_and_is_dated_in_their_language(
    db, tmp_path: Path
) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL, campaign=sample_copy(tmp_path))
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.render_errors == []
    with Session(db.engine) as s:
        french = message_to(s, "jean-baptiste.mukendi@affaires-etrangeres.example.org", "appeal")
        english = message_to(s, "tran.quoc.bao@mofa.example.org", "appeal")
    fr = letter_text(french.body.raw)
    assert "Son Excellence Monsieur Jean-Baptiste Mukendi" in fr
    assert "Monsieur le Ministre," in fr
    assert "le 23 avril 2010" in fr
    en = letter_text(english.body.raw)
    assert "His Excellency Mr Tr" in en and "Your Excellency," in en
    assert "Geneva, 23 April 2010" in en
    names = [a.filename for a in attachments_in(french.body.raw)]
    assert names == [
        "ccm-2010-appeal-Ministère des Affaires étrangères.pdf",
        "ccm-key-facts.pdf",
    ]
    assert names[0] in french.body.text  # the covering e-mail names its letter
    assert french.content_hash == content_hash(french.body.raw)
    assert french.status == MessageStatus.PENDING_REVIEW


def test_the_invitation_carries_the_meeting_as_a_calendar_event(db) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_INVITATION, settings=settings)
    with Session(db.engine) as s:
        m = message_to(s, "tran.quoc.bao@mofa.example.org", "msp-invitation")
    [ics] = [
        p for p in parsed(m.body.raw).iter_attachments() if p.get_content_type() == "text/calendar"
    ]
    assert ics.get_param("method") == "PUBLISH"
    assert ics.get_filename() == "ccm-2010-first_msp.ics"
    cal = Calendar.from_ical(ics.get_payload(decode=True))
    assert str(cal["METHOD"]) == "PUBLISH"
    [event] = cal.walk("VEVENT")
    assert event.decoded("DTSTART") == date(2010, 11, 8)
    assert event.decoded("DTEND") == date(2010, 11, 13)
    assert str(event["LOCATION"]) == "Vientiane, Lao PDR"
    assert str(event["UID"]) == "first_msp.ccm-2010@example.org"
    assert event.decoded("DTSTAMP") == m.scheduled_for


def test_a_static_file_changed_on_disk_sends_the_letter_back_to_review(db, tmp_path: Path) -> None:
    settings = sample_settings(db.url)
    path = sample_copy(tmp_path)
    load_sample(db.engine, settings, T_APPEAL, campaign=path)
    plan(db.engine, now=T_APPEAL, settings=settings)
    email = "sok.chanthy@mfaic.example.org"
    with Session(db.engine) as s:
        m = message_to(s, email, "appeal")
        approve(s, [m.id], reviewer="ana", now=T_APPEAL)
        s.commit()
        approved_hash = m.content_hash
    new_facts = (path.parent / "files" / "ccm-key-facts.pdf").read_bytes() + b"\n% revised\n"
    (path.parent / "files" / "ccm-key-facts.pdf").write_bytes(new_facts)
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.rerendered > 0
    with Session(db.engine) as s:
        m = message_to(s, email, "appeal")
        assert m.status == MessageStatus.PENDING_REVIEW
        assert m.approved_hash is None and m.content_hash != approved_hash
        assert m.content_hash == content_hash(m.body.raw)
        facts = [a for a in attachments_in(m.body.raw) if a.filename == "ccm-key-facts.pdf"]
        assert facts[0].data == new_facts
        why = s.exec(
            select(Event).where(Event.entity_id == m.id, Event.action == "replanned")
        ).one()
        assert "files changed on disk (files/ccm-key-facts.pdf)" in why.reason
        assert "attachment 'ccm-key-facts.pdf'" in why.reason
    again = plan(db.engine, now=T_APPEAL, settings=settings)
    assert again.rerendered == 0  # recorded once, not at every pass


def test_a_letter_over_the_size_cap_is_refused_at_plan(db) -> None:
    settings = sample_settings(db.url, max_message_bytes=30_000)
    load_sample(db.engine, settings, T_APPEAL)
    report = plan(db.engine, now=T_APPEAL, settings=settings)
    assert report.queued == 0 and report.render_errors
    assert all("OUTREACH_MAX_MESSAGE_BYTES (30,000)" in e.error for e in report.render_errors)
    with Session(db.engine) as s:
        statuses = {m.status for m in s.exec(select(Message))}
    assert statuses == {MessageStatus.RENDER_ERROR.value}


def test_a_moved_meeting_raises_the_event_sequence_and_replans_the_invitation(
    db, tmp_path: Path
) -> None:
    settings = sample_settings(db.url)
    path = sample_copy(tmp_path)
    load_sample(db.engine, settings, T_APPEAL, campaign=path)
    plan(db.engine, now=T_INVITATION, settings=settings)
    text = path.read_text("utf-8").replace(
        'location = "Vientiane, Lao PDR"', 'location = "Vientiane"'
    )
    path.write_text(text, "utf-8")
    load_campaigns(db.engine, path, settings=settings, now=T_INVITATION, actor="test")
    with Session(db.engine) as s:
        msp = s.exec(select(Milestone).where(Milestone.key == "first_msp")).one()
        assert msp.sequence == 1
        m = message_to(s, "tran.quoc.bao@mofa.example.org", "msp-invitation")
    [ics] = [a for a in attachments_in(m.body.raw) if a.content_type == "text/calendar"]
    [event] = Calendar.from_ical(ics.data).walk("VEVENT")
    assert int(event["SEQUENCE"]) == 1 and str(event["LOCATION"]) == "Vientiane"
    assert str(event["UID"]) == "first_msp.ccm-2010@example.org"


def test_an_edited_letter_keeps_the_files_its_reviewer_saw(db) -> None:
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_APPEAL, settings=settings)
    with Session(db.engine) as s:
        m = message_to(s, "tran.quoc.bao@mofa.example.org", "appeal")
        raw, _ = recompose_message(
            s,
            m,
            subject=m.subject,
            text=m.body.text + "\nP.S. edited\n",
            html=m.body.html,
            settings=settings,
        )
    assert attachments_in(raw) == attachments_in(m.body.raw)
    assert raw != m.body.raw
