"""Test kit for dispatch tests (no tests here): a recording aiosmtpd server on loopback with
per-test fault injection, and fast creation of approved messages.

The server runs in its own thread and event loop (aiosmtpd's Controller), so the dispatcher
under test can run in the test's loop or in a subprocess.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import threading
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy.engine import Engine
from sqlmodel import Session

from outreach.db import session_scope
from outreach.models import Campaign, Contact, Enrollment, Message, Step
from outreach.settings import Settings, load_settings
from tests.factories import T0, make_campaign, make_contact, make_step

MSGID_RE = re.compile(rb"^Message-ID: (<[^>]+>)", re.MULTILINE | re.IGNORECASE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes

    @property
    def message_id(self) -> str:
        m = MSGID_RE.search(self.content)
        assert m is not None, self.content[:200]
        return m.group(1).decode()


@dataclass
class Recorder:
    """An aiosmtpd handler that records what it accepted. ``on_rcpt(address)`` and
    ``on_data(rcpt_tos)`` may return a reply line to refuse; ``data_delay`` slows DATA."""

    received: list[Received] = field(default_factory=list)
    on_rcpt: Callable[[str], str | None] | None = None
    on_data: Callable[[list[str]], str | None] | None = None
    data_delay: float = 0.0
    rcpt_seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_seen.append(address)
        reply = self.on_rcpt(address) if self.on_rcpt else None
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        reply = self.on_data(list(envelope.rcpt_tos)) if self.on_data else None
        if reply:
            return reply
        with self.lock:
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 2.0.0 queued"

    def ids(self) -> list[str]:
        with self.lock:
            return [r.message_id for r in self.received]


class SmtpSink:
    """A loopback SMTP server: ``start()``/``stop()`` (restartable on the same port)."""

    def __init__(self, handler: Recorder | None = None, *, port: int | None = None, **smtp: Any):
        self.handler = handler or Recorder()
        self.port = port or free_port()
        self.smtp = smtp
        self.controller: Controller | None = None

    def start(self) -> SmtpSink:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.controller = Controller(
                self.handler, hostname="127.0.0.1", port=self.port, **self.smtp
            )
            self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def failing_authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
    return AuthResult(success=False, handled=False)


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
        session.execute(sa.insert(Message), rows[i : i + 500])
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
