"""Test kit for reply-intake tests (no tests here): a small world of two contacts written to,
each with a follow-up queued, fictional replies and DSNs, and readers for what intake wrote."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.lifecycle import transition
from outreach.models import Enrollment, Inbound, Message, Suppression
from outreach.replies.intake import IntakeReport, ingest
from outreach.settings import load_settings
from outreach.states import MessageStatus
from tests.factories import make_campaign, make_contact, make_message, make_step

SENT_AT = datetime(2010, 4, 23, 7, 0, tzinfo=UTC)
NOW = datetime(2010, 4, 27, 12, 0, tzinfo=UTC)
CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "replies"


# --- the world: two contacts written to, each with a follow-up queued ---------------------------


@dataclass
class World:
    campaign_id: int
    other_campaign_id: int
    a_email: str
    b_email: str
    a_contact: int
    b_contact: int
    a_appeal: str  # Message-ID of the letter sent to A
    b_appeal: str
    a_follow: int  # message row ids of the queued follow-ups
    b_follow: int
    a_other: int  # A's pending letter in another campaign


def _enroll(session: Session, campaign_id: int, contact_id: int) -> None:
    session.add(
        Enrollment(
            campaign_id=campaign_id, contact_id=contact_id, created_at=SENT_AT, updated_at=SENT_AT
        )
    )


def _send(session: Session, message: Message) -> None:
    for to in (MessageStatus.APPROVED, MessageStatus.SENDING):
        transition(session, message, to, now=SENT_AT, actor="test")
    transition(session, message, MessageStatus.SENT, now=SENT_AT, actor="test", sent_at=SENT_AT)


def build_world(engine: sa.Engine) -> World:
    with Session(engine, expire_on_commit=False) as s:
        campaign = make_campaign(s, slug="ccm-2010")
        other = make_campaign(s, slug="msp-2010")
        appeal = make_step(s, campaign, "appeal")
        follow = make_step(s, campaign, "appeal-follow-up", when={"after": "appeal", "days": 14})
        other_step = make_step(s, other, "invitation")
        a = make_contact(s, "amina.diallo@example.net", name="Amina Diallo")
        b = make_contact(s, "jean.dupont@example.net", name="Jean Dupont")
        ids = {}
        for c in (a, b):
            _enroll(s, campaign.id, c.id)
            sent = make_message(s, campaign=campaign, step=appeal, contact=c, subject="The appeal")
            _send(s, sent)
            queued = make_message(
                s, campaign=campaign, step=follow, contact=c, status="approved", subject="Reminder"
            )
            ids[c.email] = (sent.message_id, queued.id)
        _enroll(s, other.id, a.id)
        a_other = make_message(s, campaign=other, step=other_step, contact=a)
        s.commit()
        return World(
            campaign.id,
            other.id,
            a.email,
            b.email,
            a.id,
            b.id,
            ids[a.email][0],
            ids[b.email][0],
            ids[a.email][1],
            ids[b.email][1],
            a_other.id,
        )


def settings_for(url: str, **kw):  # type: ignore[no-untyped-def]
    return load_settings(env={}, database_url=url, **kw)


def reply(
    frm: str,
    *,
    in_reply_to: str | None = None,
    references: str | None = None,
    subject: str = "Re: The appeal",
    body: str = "Thank you, we will raise this with the minister.",
    message_id: str | None = None,
    headers: str = "",
) -> bytes:
    lines = [
        f"From: Someone <{frm}>",
        "To: Coalition <outreach@example.org>",
        f"Subject: {subject}",
        "Date: Tue, 27 Apr 2010 11:03:04 +0200",
        f"Message-ID: {message_id or f'<r{abs(hash((frm, body, subject, in_reply_to)))}@example.net>'}",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: {in_reply_to}")
    if references:
        lines.append(f"References: {references}")
    if headers:
        lines.extend(headers.strip().split("\n"))
    text = (
        "\r\n".join(lines)
        + f"\r\n\r\n{body}\r\n\r\nOn Fri, 23 Apr 2010, Coalition wrote:\r\n> Dear Ambassador\r\n"
    )
    return text.encode()


def dsn(
    recipient: str,
    status: str,
    *,
    original_id: str | None,
    action: str = "failed",
    diagnostic: str = "550 5.1.1 User unknown",
    message_id: str | None = None,
) -> bytes:
    original = f"Message-ID: {original_id}\r\n" if original_id else ""
    mid = message_id or f"<dsn{abs(hash((recipient, status, original_id, action)))}@mx.example.org>"
    return (
        "From: MAILER-DAEMON@mx.example.org (Mail Delivery System)\r\n"
        "To: outreach@example.org\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 23 Apr 2010 09:00:05 +0200\r\n"
        f"Message-ID: {mid}\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n'
        "\r\n--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: {action}\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: outreach@example.org\r\nTo: {recipient}\r\n{original}Subject: The appeal\r\n"
        "--B--\r\n"
    ).encode()


def run(db, *raws: bytes, **kw) -> IntakeReport:  # type: ignore[no-untyped-def]
    settings = kw.pop("settings", None) or settings_for(db.url)
    return ingest(
        db.engine,
        [(f"test#{i}", raw) for i, raw in enumerate(raws)],
        settings=settings,
        now=kw.pop("now", NOW),
        **kw,
    )


def status_of(db, message_id: int) -> str:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        m = s.get(Message, message_id)
        assert m is not None
        return m.status


def enrollment(db, campaign_id: int, contact_id: int) -> str:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return s.exec(
            select(Enrollment.status).where(
                Enrollment.campaign_id == campaign_id, Enrollment.contact_id == contact_id
            )
        ).one()


def suppressed(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return {row.email: row.reason for row in s.exec(select(Suppression))}


def inbound_rows(db) -> list[Inbound]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return list(s.exec(select(Inbound).order_by(Inbound.id)))
