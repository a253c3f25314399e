"""A sample campaign with three appeals sent, and bounces of them, for the reply, reclassify and
suppression CLI tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Session, select

from outreach.lifecycle import transition
from outreach.models import Contact, Message, Step
from outreach.planner import plan
from outreach.states import MessageStatus
from tests.planning import load_sample, sample_settings

T_APPEAL = datetime(2010, 4, 20, 12, 0, tzinfo=UTC)
SENT_AT = datetime(2010, 4, 23, 7, 0, 5, tzinfo=UTC)
NOW = "2010-04-27T12:00Z"


def sent_sample(db) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """Plan the sample campaign and mark three appeals sent: (Message-ID, email, subject)."""
    settings = sample_settings(db.url)
    load_sample(db.engine, settings, T_APPEAL)
    plan(db.engine, now=T_APPEAL, settings=settings)
    out = []
    with Session(db.engine) as s:
        rows = s.exec(
            select(Message, Contact)
            .join(Contact, Contact.id == Message.contact_id)
            .join(Step, Step.id == Message.step_id)
            .where(Step.key == "appeal")
            .order_by(Contact.email)
        ).all()
        for m, c in rows[:3]:
            for to in (MessageStatus.APPROVED, MessageStatus.SENDING):
                transition(s, m, to, now=SENT_AT, actor="t")
            transition(s, m, MessageStatus.SENT, now=SENT_AT, actor="t", sent_at=SENT_AT)
            out.append((m.message_id, c.email, m.subject))
        s.commit()
    return out


def bounce(recipient: str, original_id: str, *, diagnostic: str, stage: str) -> bytes:
    return (
        "From: MAILER-DAEMON@relay.example.org (Mail Delivery System)\r\n"
        "To: outreach@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 23 Apr 2010 09:00:05 +0200\r\n"
        f"Message-ID: <bounce.{abs(hash((recipient, diagnostic)))}@relay.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        f"<{recipient}>: host mx.example.net[192.0.2.5] said: {diagnostic} (in reply to {stage}\r\n"
        "    command)\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: outreach@example.org\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\n--B--\r\n"
    ).encode()
