"""Test kit for dispatch tests (no tests here): the package's SMTP sink
(:mod:`outreach.smtpsink`) in the dispatch tests' vocabulary, and fast creation of approved
messages.

The server runs in its own thread and event loop (aiosmtpd's Controller), so the dispatcher
under test can run in the test's loop or in a subprocess.
"""

from __future__ import annotations

import hashlib
import ssl
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from outreach import smtpsink
from outreach.db import session_scope
from outreach.models import Campaign, Contact, Enrollment, Message, Step
from outreach.repository.planning import insert_messages
from outreach.settings import Settings, load_settings
from tests.factories import T0, make_campaign, make_contact, make_step


@dataclass(frozen=True)
class Received:
    """One accepted message as the dispatch tests read it (recipients as a list)."""

    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    message_id: str


@dataclass
class Recorder:
    """The faults a dispatch test injects into :class:`SmtpSink` and what it reads back.

    ``on_rcpt(address)`` and ``on_data(rcpt_tos)`` may return a reply line to refuse;
    ``data_delay`` slows DATA. ``received``, ``ids()`` and ``rcpt_seen`` read the sink's
    recordings."""

    on_rcpt: Callable[[str], str | None] | None = None
    on_data: Callable[[list[str]], str | None] | None = None
    data_delay: float = 0.0
    sink: smtpsink.SmtpSink | None = None

    def attach(self, sink: smtpsink.SmtpSink) -> None:
        """Install these faults on ``sink`` and read its recordings from now on."""
        self.sink = sink
        on_rcpt, on_data = self.on_rcpt, self.on_data
        if on_rcpt is not None:
            sink.script_rcpt(lambda address, _n: on_rcpt(address))
        if on_data is not None:
            sink.script_envelope(lambda request: on_data(list(request.rcpt_tos)))
        sink.set_data_delay(self.data_delay)

    @property
    def received(self) -> list[Received]:
        assert self.sink is not None
        out = []
        for r in self.sink.received:
            assert r.message_id is not None, r.content[:200]
            out.append(Received(r.mail_from, list(r.rcpt_tos), r.content, r.message_id))
        return out

    def ids(self) -> list[str]:
        return [r.message_id for r in self.received]

    @property
    def rcpt_seen(self) -> list[str]:
        """Every RCPT TO address the sink was sent, in order (accepted or not)."""
        assert self.sink is not None
        return [a.address for a in self.sink.rcpt_attempts]


#: AUTH offered with no users: every login is refused (535).
failing_authenticator: Mapping[str, str] = MappingProxyType({})


class SmtpSink(smtpsink.SmtpSink):
    """:class:`outreach.smtpsink.SmtpSink` with a :class:`Recorder` as ``handler``;
    ``authenticator`` and ``ssl_context`` are its ``auth`` and ``implicit_tls_context``."""

    def __init__(
        self,
        handler: Recorder | None = None,
        *,
        port: int | None = None,
        authenticator: Mapping[str, str] | None = None,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> None:
        super().__init__(port=port, auth=authenticator, implicit_tls_context=ssl_context, **options)
        self.handler = handler or Recorder()
        self.handler.attach(self)


def smtp_settings(db_url: str, port: int, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": db_url,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_tls": "none",
        "smtp_timeout": 10.0,
    }
    values.update(overrides)
    return load_settings(env={}, **values)


def raw_message(message_id: str, to: str, body: str = "hello") -> bytes:
    return (
        f"From: Coalition <outreach@example.org>\r\nTo: {to}\r\nSubject: Test\r\n"
        f"Message-ID: {message_id}\r\nDate: Tue, 20 Apr 2010 12:00:00 +0000\r\n"
        f"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


@dataclass
class World:
    campaign_id: int
    step_id: int
    follow_up_step_id: int


def make_world(session: Session, *, slug: str = "ccm", **campaign: Any) -> World:
    c = make_campaign(session, slug=slug, **campaign)
    s = make_step(session, c, key="appeal")
    f = make_step(session, c, key="follow-up", when={"after": "appeal", "days": 14})
    return World(c.id, s.id, f.id)  # type: ignore[arg-type]


def add_approved(
    session: Session,
    world: World,
    n: int,
    *,
    due: datetime = T0,
    step_id: int | None = None,
    enroll: bool = True,
    contact_kw: dict[str, Any] | None = None,
) -> list[int]:
    """``n`` contacts and one approved, due message each (bulk inserts). Returns message ids."""
    tag = uuid.uuid4().hex[:6]
    emails = [f"p{i}-{tag}@example.org" for i in range(n)]
    session.execute(
        sa.insert(Contact),
        [
            {
                "email": e,
                "name": f"Person {i}",
                "tags": [],
                "fields": {},
                "created_at": T0,
                "updated_at": T0,
                **(contact_kw or {}),
            }
            for i, e in enumerate(emails)
        ],
    )
    contact_ids = dict(
        session.execute(sa.select(Contact.email, Contact.id).where(Contact.email.in_(emails))).all()
    )
    if enroll:
        session.execute(
            sa.insert(Enrollment),
            [
                {
                    "campaign_id": world.campaign_id,
                    "contact_id": contact_ids[e],
                    "status": "active",
                    "created_at": T0,
                    "updated_at": T0,
                }
                for e in emails
            ],
        )
    rows = []
    for e in emails:
        mid = f"<{uuid.uuid4().hex}@example.org>"
        raw = raw_message(mid, e)
        sha = hashlib.sha256(raw).hexdigest()
        rows.append(
            {
                "campaign_id": world.campaign_id,
                "step_id": step_id or world.step_id,
                "contact_id": contact_ids[e],
                "message_id": mid,
                "status": "approved",
                "subject": "Test",
                "text": "hello",
                "raw": raw,
                "content_hash": sha,
                "approved_hash": sha,
                "envelope_from": "outreach@example.org",
                "envelope_to": e,
                "edited": False,
                "render_context": {},
                "scheduled_for": due,
                "rendered_for": due.date(),
                "due_at": due,
                "attempts": 0,
                "created_at": T0,
                "updated_at": T0,
            }
        )
    for i in range(0, len(rows), 500):
        insert_messages(session, rows=rows[i : i + 500])
    ids = (
        session.execute(
            sa.select(Message.id)
            .where(Message.envelope_to.in_(emails), Message.campaign_id == world.campaign_id)
            .order_by(Message.id)
        )
        .scalars()
        .all()
    )
    return list(ids)


def setup(engine: Engine, n: int, **kw: Any) -> tuple[World, list[int]]:
    with session_scope(engine) as session:
        world = make_world(session)
        ids = add_approved(session, world, n, **kw)
    return world, ids


def statuses(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Message.id, Message.status)).all())


def message(engine: Engine, mid: int) -> Message:
    with Session(engine, expire_on_commit=False) as session:
        m = session.get(Message, mid)
        assert m is not None
        return m


def message_ids(engine: Engine) -> dict[int, str]:
    """Row id → Message-ID header value."""
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Message.id, Message.message_id)).all())


__all__ = [
    "T0",
    "Campaign",
    "Recorder",
    "SmtpSink",
    "Step",
    "add_approved",
    "make_contact",
    "make_world",
    "setup",
    "smtp_settings",
]
