"""`contacts erase` as a service: after an erasure no table holds the person's address or
name, the funnel's counts stay, and the address never comes back — not by an import, not by a
plan — while a different key is refused loudly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach.db import session_scope
from outreach.errors import ErasureKeyError, PrivacyError
from outreach.funnel import campaign_funnels
from outreach.lifecycle import transition
from outreach.models import Message
from outreach.operations.contacts import import_contacts
from outreach.planner import plan
from outreach.privacy.erase import erase_people
from outreach.smtpsink.server import SmtpSink
from outreach.states import MessageStatus
from tests.conftest import Database
from tests.factories import make_contact
from tests.integration.privacy_kit import (
    AFTER,
    P_EMAIL,
    P_NAME,
    R_EMAIL,
    R_NAME,
    History,
    build_history,
    file_traces,
    traces,
)
from tests.planning import SAMPLE_CONTACTS


@pytest.fixture
def history(db: Database, tmp_path: Path) -> Iterator[History]:
    with SmtpSink(record=False) as sink:
        yield build_history(db.engine, db.url, tmp_path, sink)


def funnel(db: Database) -> dict[str, int]:
    with session_scope(db.engine) as session:
        return campaign_funnels(session, now=AFTER)[0].funnel


def erase(db: Database, history: History, *emails: str, reason: str = "letter of 1 June") -> None:
    erase_people(
        db.engine, list(emails), reason=reason, actor="dpo", settings=history.settings, now=AFTER
    )


def test_the_history_leaves_traces_to_erase(db: Database, history: History) -> None:
    found = traces(db.engine, [P_EMAIL, P_NAME])
    tables = {place.split(".")[0] for place in found}
    assert {"contact", "message", "inbound", "event", "approval"} <= tables
    assert any(place.startswith("suppression.") for place in traces(db.engine, [R_EMAIL]))


def test_erasure_leaves_no_trace_and_keeps_the_counts(db: Database, history: History) -> None:
    before = funnel(db)
    report = erase_people(
        db.engine,
        [P_EMAIL, R_EMAIL.upper()],
        reason=f"request from {P_NAME} by letter of 1 June 2010",
        actor="dpo",
        settings=history.settings,
        now=AFTER,
    )
    assert traces(db.engine, [P_EMAIL, P_NAME, R_EMAIL, R_NAME]) == []
    after = funnel(db)
    assert after["enrolled"] == before["enrolled"] and after["sent"] == before["sent"]
    assert after["unsubscribed"] == before["unsubscribed"] == 1
    assert after["pending_review"] == before["pending_review"] - 1  # P's edited follow-up
    assert after["cancelled"] == before["cancelled"] + 1
    counts = report.counts
    assert (counts.addresses, counts.contacts, counts.cancelled) == (2, 2, 1)
    assert counts.letters == 3 and counts.inbound == 3
    with db.engine.connect() as conn:
        tokens = conn.execute(
            sa.text("SELECT email, reason FROM suppression WHERE reason = 'erased'")
        ).all()
        event = conn.execute(
            sa.text("SELECT actor, reason, data FROM event WHERE action = 'erased'")
        ).one()
        erased = conn.execute(sa.text("SELECT count(*) FROM contact WHERE erased_at IS NOT NULL"))
        erased_contacts = erased.scalar_one()
    assert len(tokens) == 2 and all(t.email.startswith("erased:") for t in tokens)
    assert event.actor == "dpo" and event.reason == "request from [erased] by letter of 1 June 2010"
    assert erased_contacts == 2
    assert history.settings.erasure_key_file.stat().st_mode & 0o777 == 0o600


def test_an_erased_address_is_never_imported_or_planned_again(
    db: Database, history: History
) -> None:
    erase(db, history, P_EMAIL)
    imported = import_contacts(db.engine, SAMPLE_CONTACTS, now=AFTER, settings=history.settings)
    assert imported.result is not None and imported.result.created == 0
    assert len(imported.erased_lines) == 1
    assert traces(db.engine, [P_EMAIL]) == []
    # a row created some other way is still never planned for
    with session_scope(db.engine) as session:
        make_contact(session, P_EMAIL, name="Someone", tags=["not-joined"])
    plan(db.engine, now=AFTER, settings=history.settings)
    with db.engine.connect() as conn:
        letters = conn.execute(
            sa.text(
                "SELECT count(*) FROM message m JOIN contact c ON c.id = m.contact_id "
                "WHERE c.email = :email"
            ),
            {"email": P_EMAIL},
        ).scalar_one()
    assert letters == 0


def test_without_settings_an_import_is_refused_once_erasures_exist(
    db: Database, history: History
) -> None:
    erase(db, history, R_EMAIL)
    with pytest.raises(ErasureKeyError):
        import_contacts(db.engine, SAMPLE_CONTACTS, now=AFTER)


def test_another_key_is_refused_loudly(db: Database, history: History, tmp_path: Path) -> None:
    erase(db, history, P_EMAIL)
    other = history.settings.model_copy(update={"erasure_key_file": tmp_path / "other.key"})
    (tmp_path / "other.key").write_text("0123456789abcdef" * 4)
    (tmp_path / "other.key").chmod(0o600)
    with pytest.raises(ErasureKeyError, match="key id"):
        erase_people(db.engine, [R_EMAIL], reason="x", actor="dpo", settings=other, now=AFTER)
    with pytest.raises(ErasureKeyError, match="key id"):
        import_contacts(db.engine, SAMPLE_CONTACTS, now=AFTER, settings=other)
    with pytest.raises(ErasureKeyError, match="key id"):
        plan(db.engine, now=AFTER, settings=other)
    (tmp_path / "other.key").unlink()
    with pytest.raises(ErasureKeyError, match="no erasure key"):
        plan(db.engine, now=AFTER, settings=other)


def test_a_letter_being_sent_holds_the_erasure_back(db: Database, history: History) -> None:
    with session_scope(db.engine) as session:
        message = session.get(Message, history.p_follow_up)
        assert message is not None
        transition(session, message, MessageStatus.CANCELLED, now=AFTER, actor="test")
    with db.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE message SET status = 'sending' WHERE id = :id"),
            {"id": history.p_follow_up},
        )
    with pytest.raises(PrivacyError, match="being sent right now"):
        erase(db, history, P_EMAIL)
    assert traces(db.engine, [P_EMAIL]) != []


def test_bad_requests_change_nothing(db: Database, history: History) -> None:
    with pytest.raises(PrivacyError, match="--reason"):
        erase(db, history, P_EMAIL, reason="  ")
    with pytest.raises(PrivacyError, match="email"):
        erase(db, history, "not an address")
    assert traces(db.engine, [P_EMAIL]) != []


def test_no_copy_lingers_in_the_sqlite_file(sqlite_db: Database, tmp_path: Path) -> None:
    """The database file and its write-ahead log hold no copy of what was erased: the erasure
    overwrites what it frees, rebuilds the file and truncates the log."""
    with SmtpSink(record=False) as sink:
        history = build_history(sqlite_db.engine, sqlite_db.url, tmp_path, sink)
    files = [tmp_path / "outreach.db", tmp_path / "outreach.db-wal"]
    words = [P_EMAIL, P_NAME, R_EMAIL, R_NAME]
    assert file_traces(files, words) != []
    report = erase_people(
        sqlite_db.engine,
        [P_EMAIL, R_EMAIL],
        reason="requests of 1 June",
        actor="dpo",
        settings=history.settings,
        now=AFTER,
    )
    assert report.compacted is True
    assert file_traces(files, words) == []
