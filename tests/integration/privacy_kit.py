"""Test kit for the personal-data tests (no tests here): a short history of the sample
campaign in which two officials leave traces everywhere outreach keeps data, and a scan of
every table for what identifies them.

The history: the appeal planned, approved (a review note naming P) and sent through the SMTP
sink; P answers with an out-of-office and a mailbox-full bounce names P's address; R asks to be
unsubscribed (a suppression row); the follow-ups are planned and P's is edited by a reviewer
(an event with a diff naming P).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from outreach.clock import FixedClock
from outreach.daemon import Daemon
from outreach.db import session_scope
from outreach.demo import build_reply
from outreach.planner import plan, recompose_message
from outreach.replies.intake import ingest
from outreach.repository.demo import sent_letters
from outreach.review.actions import approve_all, edit
from outreach.settings import Settings
from outreach.smtpsink.server import SmtpSink
from tests.planning import load_sample, sample_settings

P_EMAIL = "nguyen.thi.lan@mission-vn.example.org"
P_NAME = "Nguyễn Thị Lan Hương"
R_EMAIL = "sok.chanthy@mfaic.example.org"
R_NAME = "Sok Chanthy"
APPEAL_DAY = datetime(2010, 4, 23, tzinfo=UTC)
REPLIES_AT = datetime(2010, 4, 27, 10, 0, tzinfo=UTC)
FOLLOW_UPS_PLANNED = datetime(2010, 5, 4, 4, 0, tzinfo=UTC)
AFTER = datetime(2010, 6, 1, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class History:
    """The history's settings (key file in the test's folder) and P's edited follow-up."""

    settings: Settings
    p_follow_up: int


def kit_settings(db_url: str, folder: Path, sink_port: int, **overrides: Any) -> Settings:
    return sample_settings(
        db_url,
        smtp_host="127.0.0.1",
        smtp_port=sink_port,
        smtp_tls="none",
        erasure_key_file=folder / "erasure.key",
        **overrides,
    )


def build_history(
    engine: Engine, db_url: str, folder: Path, sink: SmtpSink, **overrides: Any
) -> History:
    """Run the history (see the module docstring) on ``engine``, with the settings
    ``overrides`` (``public_url``: letters carry one-click unsubscribe links)."""
    settings = kit_settings(db_url, folder, sink.port, **overrides)
    clock = FixedClock(APPEAL_DAY + timedelta(hours=4))
    load_sample(engine, settings, clock.now())
    daemon = Daemon(engine, settings, clock=clock, instance="kit")
    # the planner itself, not the daemon's job: that one skips when any process on the same
    # PostgreSQL database (another test run) holds the planning lock
    plan(engine, now=clock.now(), settings=settings, actor="kit")
    with session_scope(engine) as session:
        approve_all(session, reviewer="kit", note=f"checked the title of {P_NAME}", now=clock.now())
    for hour in range(5, 18):
        clock.set(APPEAL_DAY + timedelta(hours=hour))
        asyncio.run(daemon.dispatch_job())
    _replies(engine, settings)
    clock.set(FOLLOW_UPS_PLANNED)
    plan(engine, now=clock.now(), settings=settings, actor="kit")
    return History(settings, _edit_follow_up(engine, settings))


def _replies(engine: Engine, settings: Settings) -> None:
    with session_scope(engine) as session:
        letters = {
            contact.email: (m, contact) for m, contact in sent_letters(session, step_key="appeal")
        }
    p_letter, p_contact = letters[P_EMAIL]
    r_letter, r_contact = letters[R_EMAIL]
    raws = [
        (
            "kit:ooo",
            build_reply("auto_reply", to_message=p_letter, contact=p_contact, when=REPLIES_AT),
        ),
        (
            "kit:unsub",
            build_reply("unsubscribe", to_message=r_letter, contact=r_contact, when=REPLIES_AT),
        ),
        ("kit:full", mailbox_full(p_letter.message_id)),
    ]
    ingest(engine, raws, settings=settings, now=REPLIES_AT)


def mailbox_full(message_id: str) -> bytes:
    """A delivery delay notice (4.2.2, mailbox full) naming P's address."""
    return (
        "Message-ID: <dsn-kit-1@mx.example.net>\r\n"
        "Date: Tue, 27 Apr 2010 10:00:00 +0000\r\n"
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.net>\r\n"
        "To: outreach@example.org\r\nSubject: Delayed Mail (still being retried)\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b1"\r\n'
        "\r\n--b1\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
        f"<{P_EMAIL}>: host mx.example.net said: 452 4.2.2 mailbox full\r\n"
        "\r\n--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\n\r\n"
        f"Final-Recipient: rfc822; {P_EMAIL}\r\nAction: delayed\r\nStatus: 4.2.2\r\n"
        "Diagnostic-Code: smtp; 452 4.2.2 mailbox full\r\n"
        "\r\n--b1\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: {message_id}\r\nTo: {P_EMAIL}\r\n\r\n--b1--\r\n"
    ).encode("ascii")


def _edit_follow_up(engine: Engine, settings: Settings) -> int:
    with session_scope(engine) as session:
        row = session.execute(
            sa.text(
                "SELECT m.id, m.subject, b.text, b.html FROM message m "
                "JOIN message_body b ON b.message_id = m.id "
                "JOIN contact c ON c.id = m.contact_id JOIN step s ON s.id = m.step_id "
                "WHERE c.email = :email AND s.key = 'appeal-follow-up'"
            ),
            {"email": P_EMAIL},
        ).one()
        edit(
            session,
            row.id,
            subject=row.subject,
            text=f"Dear {P_NAME},\n\n" + row.text,
            html=row.html,
            reviewer="kit",
            now=FOLLOW_UPS_PLANNED + timedelta(hours=1),
            recompose=lambda s, m, subj, text, html: recompose_message(
                s, m, subject=subj, text=text, html=html, settings=settings
            ),
        )
        return int(row.id)


# --- looking for traces ------------------------------------------------------------------------


def needle_forms(words: list[str]) -> list[bytes]:
    """Each word lower-cased as UTF-8 and as JSON escapes it (``\\u1ec5``)."""
    forms = set()
    for word in words:
        forms.add(word.lower().encode("utf-8"))
        forms.add(json.dumps(word.lower())[1:-1].encode("ascii"))
    return sorted(forms)


def _text(value: Any) -> bytes:
    if isinstance(value, bytes | memoryview):
        return bytes(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False).lower().encode("utf-8")
    return str(value).lower().encode("utf-8")


def traces(engine: Engine, words: list[str]) -> list[str]:
    """``table.column #row`` for every cell of every table (read back from the database, so
    tables other code adds are scanned too) containing one of ``words`` in any case."""
    forms = needle_forms(words)
    found = []
    metadata = sa.MetaData()
    metadata.reflect(engine)
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for n, row in enumerate(conn.execute(sa.select(table))):
                for column, value in row._mapping.items():
                    if value is not None and any(f in _text(value) for f in forms):
                        found.append(f"{table.name}.{column} #{n}")
    return found


def file_traces(paths: list[Path], words: list[str]) -> list[str]:
    """The files among ``paths`` (those that exist) containing one of ``words``."""
    forms = needle_forms(words)
    return [
        str(path)
        for path in paths
        if path.exists() and any(f in path.read_bytes().lower() for f in forms)
    ]
