"""fetch_mailbox against a real Dovecot on loopback (tests/dovecot.py) and a real database."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.db import create_engine
from outreach.errors import ImapError
from outreach.models import Inbound, MailboxState
from outreach.replies.intake import ImapNotConfigured, fetch_mailbox, imap_config, mailbox_key
from outreach.settings import load_settings
from tests.dovecot import PASSWORD, DovecotServer, dovecot_available
from tests.integration.intake_kit import NOW, World, build_world, dsn, reply, status_of

pytestmark = [
    pytest.mark.dovecot,
    pytest.mark.skipif(
        not dovecot_available(),
        reason="dovecot is not installed (Debian: apt-get install dovecot-imapd)",
    ),
]


@pytest.fixture(scope="module")
def server() -> Iterator[DovecotServer]:
    with DovecotServer(tls=True) as srv:
        yield srv


@pytest.fixture
def folder() -> str:
    """A mailbox of its own for each test (and each database parameter)."""
    return f"R{uuid.uuid4().hex[:12]}"


def env_for(server: DovecotServer, folder: str, db_url: str, **extra: str) -> dict[str, str]:
    """The settings a daemon would get from its environment (plain IMAP on loopback)."""
    return {
        "OUTREACH_DATABASE_URL": db_url,
        "OUTREACH_IMAP_HOST": "127.0.0.1",
        "OUTREACH_IMAP_PORT": str(server.port),
        "OUTREACH_IMAP_USERNAME": server.username,
        "OUTREACH_IMAP_PASSWORD": PASSWORD,
        "OUTREACH_IMAP_TLS": "none",
        "OUTREACH_IMAP_MAILBOX": folder,
        **extra,
    }


def fill(server: DovecotServer, folder: str, w: World) -> list[int]:
    return [
        server.append(reply(w.a_email, in_reply_to=w.a_appeal), mailbox=folder),
        server.append(
            reply(
                w.b_email,
                in_reply_to=w.b_appeal,
                subject="Automatic reply: The appeal",
                body="I am away.",
                headers="Auto-Submitted: auto-replied",
            ),
            mailbox=folder,
        ),
        server.append(dsn("ghost@example.net", "5.1.1", original_id="<x@y>"), mailbox=folder),
    ]


def stored(db) -> list[Inbound]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return list(s.exec(select(Inbound).order_by(Inbound.id)))


def test_fetch_matches_classifies_and_a_second_fetch_does_nothing(db, server, folder) -> None:
    w = build_world(db.engine)
    uids = fill(server, folder, w)
    settings = load_settings(env=env_for(server, folder, db.url))
    report = fetch_mailbox(db.engine, settings=settings, now=NOW)
    assert (report.processed, report.duplicates, report.unmatched) == (3, 0, 1)
    assert dict(report.by_class) == {"human": 1, "auto_reply": 1, "bounce_hard": 1}
    assert "3 new" in str(report) and "\n" not in str(report)
    rows = stored(db)
    assert [(r.classification, r.match_method) for r in rows] == [
        ("human", "in_reply_to"),
        ("auto_reply", "in_reply_to"),
        ("bounce_hard", None),
    ]
    assert all(r.source and r.source.startswith("imap:") for r in rows)
    assert status_of(db, w.a_follow) == "cancelled"
    assert status_of(db, w.b_follow) == "approved"
    with Session(db.engine) as s:
        state = s.get(MailboxState, mailbox_key(imap_config(settings)))
        assert state is not None and state.last_uid == uids[-1]
        assert state.uidvalidity == server.status(folder)[0]
    again = fetch_mailbox(db.engine, settings=settings, now=NOW + timedelta(minutes=2))
    assert (again.processed, again.duplicates) == (0, 0)  # nothing was even fetched
    assert len(stored(db)) == 3
    # read-only: nothing flagged seen or deleted on the server
    flags = server.flags(uids, mailbox=folder)
    assert all(b"\\Seen" not in f and b"\\Deleted" not in f for f in flags.values()), flags


def test_a_restarted_fetcher_processes_nothing_twice(db, server, folder) -> None:
    w = build_world(db.engine)
    fill(server, folder, w)
    env = env_for(server, folder, db.url)
    first = fetch_mailbox(db.engine, settings=load_settings(env=env), now=NOW)
    assert first.processed == 3
    newer = server.append(reply(w.b_email, in_reply_to=w.b_appeal, body="Yes."), mailbox=folder)
    # a new process: fresh settings, fresh engine, nothing shared but the database
    engine = create_engine(db.url)
    try:
        second = fetch_mailbox(engine, settings=load_settings(env=env), now=NOW)
    finally:
        engine.dispose()
    assert (second.processed, second.duplicates, dict(second.by_class)) == (1, 0, {"human": 1})
    assert len(stored(db)) == 4
    assert stored(db)[-1].source.endswith(f"uid={newer}")  # type: ignore[union-attr]


def test_a_crash_before_the_uid_was_recorded_refetches_harmlessly(db, server, folder) -> None:
    w = build_world(db.engine)
    fill(server, folder, w)
    settings = load_settings(env=env_for(server, folder, db.url))
    fetch_mailbox(db.engine, settings=settings, now=NOW)
    with db.engine.begin() as conn:  # as if the process died between the commit and the UID
        conn.execute(sa.update(MailboxState).values(last_uid=0))
    again = fetch_mailbox(db.engine, settings=settings, now=NOW)
    assert (again.processed, again.duplicates) == (0, 3)
    assert len(stored(db)) == 3


def test_uidvalidity_change_rescans_without_duplicates(db, server, folder) -> None:
    w = build_world(db.engine)
    uids = fill(server, folder, w)
    settings = load_settings(env=env_for(server, folder, db.url))
    fetch_mailbox(db.engine, settings=settings, now=NOW, batch=2)
    server.append(reply(w.b_email, in_reply_to=w.b_appeal, body="Late answer."), mailbox=folder)
    with db.engine.begin() as conn:  # the server renumbered the mailbox
        conn.execute(sa.update(MailboxState).values(uidvalidity=1, last_uid=uids[-1] + 50))
    report = fetch_mailbox(db.engine, settings=settings, now=NOW, batch=2)
    assert report.rescanned and "UIDVALIDITY" in str(report)
    assert (report.processed, report.duplicates) == (1, 3)
    assert len(stored(db)) == 4
    with Session(db.engine) as s:
        state = s.exec(select(MailboxState)).one()
    assert state.uidvalidity == server.status(folder)[0]
    assert state.last_uid == uids[-1] + 1


def test_implicit_tls_with_a_ca_file_from_the_environment(
    db, server, folder, tmp_path: Path
) -> None:
    w = build_world(db.engine)
    server.append(reply(w.a_email, in_reply_to=w.a_appeal), mailbox=folder)
    assert server.ca is not None
    ca_file = tmp_path / "ca.pem"
    server.ca.cert_pem.write_to_path(str(ca_file))
    env = env_for(
        server,
        folder,
        db.url,
        OUTREACH_IMAP_PORT=str(server.tls_port),
        OUTREACH_IMAP_TLS="tls",
        OUTREACH_IMAP_CA_FILE=str(ca_file),
    )
    report = fetch_mailbox(db.engine, settings=load_settings(env=env), now=NOW)
    assert report.processed == 1 and dict(report.by_class) == {"human": 1}


def test_starttls_with_the_test_ca(db, server, folder) -> None:
    server.append(reply("someone@example.net", body="Hello."), mailbox=folder)
    config = dataclasses.replace(server.starttls_config, mailbox=folder)
    report = fetch_mailbox(db.engine, settings=load_settings(env={}), now=NOW, config=config)
    assert (report.processed, report.unmatched) == (1, 1)


def test_tls_without_trusting_the_test_ca_fails_in_one_line(db, server, folder) -> None:
    env = env_for(
        server, folder, db.url, OUTREACH_IMAP_PORT=str(server.tls_port), OUTREACH_IMAP_TLS="tls"
    )
    with pytest.raises(ImapError, match="certificate") as info:
        fetch_mailbox(db.engine, settings=load_settings(env=env), now=NOW)
    assert "\n" not in str(info.value) and PASSWORD not in str(info.value)
    assert stored(db) == []


def test_not_configured_is_a_clear_error(db) -> None:
    with pytest.raises(ImapNotConfigured, match="OUTREACH_IMAP_HOST"):
        fetch_mailbox(db.engine, settings=load_settings(env={}), now=NOW)
