"""A sample campaign with three appeals sent, for the reply, reclassify and suppression CLI tests."""

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
