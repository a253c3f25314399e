"""What the web console keeps about a person is personal data too: a letter's one-click
unsubscribe token (its hash) and what using it recorded are in `contacts export`, and
`contacts erase` removes them — the old link then leads to the plain "unknown link" page and
changes nothing, the console's contact search no longer finds the person, and the keyed hash
the erasure leaves in the suppression list cannot be lifted, from the console or the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach.db import session_scope
from outreach.errors import SuppressionError
from outreach.operations.suppressions import lift_suppression, suppression_items
from outreach.privacy.erase import erase_people
from outreach.privacy.export import personal_data
from outreach.smtpsink.server import SmtpSink
from outreach.tokens import token_hash
from outreach.unsubscribe_links import token_in_raw
from tests.conftest import Database
from tests.integration.privacy_kit import AFTER, P_EMAIL, P_NAME, History, build_history, traces
from tests.web_kit import add_account, client, console, csrf_for, sign_in

PUBLIC = "https://console.example.org"
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


@pytest.fixture
def history(db: Database, tmp_path: Path) -> Iterator[History]:
    with SmtpSink(record=False) as sink:
        yield build_history(db.engine, db.url, tmp_path, sink, public_url=PUBLIC)


def p_appeal(db: Database) -> tuple[int, int, bytes, str | None]:
    """(message id, contact id, raw bytes, token hash) of P's appeal."""
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT m.id, m.contact_id, b.raw, m.unsubscribe_token_hash FROM message m "
                "JOIN message_body b ON b.message_id = m.id "
                "JOIN contact c ON c.id = m.contact_id JOIN step s ON s.id = m.step_id "
                "WHERE c.email = :email AND s.key = 'appeal'"
            ),
            {"email": P_EMAIL},
        ).one()
    return row[0], row[1], bytes(row[2]), row[3]


def counts(db: Database) -> tuple[int, int]:
    with db.engine.connect() as conn:
        events = conn.execute(sa.text("SELECT count(*) FROM event")).scalar_one()
        suppressed = conn.execute(sa.text("SELECT count(*) FROM suppression")).scalar_one()
    return events, suppressed


def test_the_console_data_of_a_person_is_exported_then_erased(
    db: Database, history: History
) -> None:
    message_id, contact_id, raw, hashed = p_appeal(db)
    token = token_in_raw(raw)
    assert token is not None and hashed == token_hash(token)
    http = client(console(db.engine, db.url, settings=history.settings))
    assert http.post(f"/unsubscribe/{token}", data=ONE_CLICK).status_code == 200

    with session_scope(db.engine) as session:
        held = personal_data(session, email=P_EMAIL, settings=history.settings)
    appeal = next(letter for letter in held["letters"] if letter["id"] == message_id)
    assert appeal["one_click_unsubscribe"] is True
    assert held["suppression"]["reason"] == "unsubscribe"
    one_click = [e for e in held["events"] if e["actor"] == "recipient via one-click unsubscribe"]
    assert ("message", message_id, "unsubscribed") in {
        (e["entity"], e["entity_id"], e["action"]) for e in one_click
    }

    erase_people(
        db.engine, [P_EMAIL], reason="letter of 1 June", actor="dpo",
        settings=history.settings, now=AFTER,
    )  # fmt: skip
    assert traces(db.engine, [P_EMAIL, P_NAME]) == []
    with db.engine.connect() as conn:
        left = conn.execute(
            sa.text(
                "SELECT count(*) FROM message "
                "WHERE contact_id = :c AND unsubscribe_token_hash IS NOT NULL"
            ),
            {"c": contact_id},
        ).scalar_one()
    assert left == 0
    before = counts(db)
    again = http.post(f"/unsubscribe/{token}", data=ONE_CLICK)
    assert again.status_code == 404 and http.get(f"/unsubscribe/{token}").status_code == 404
    assert counts(db) == before


def test_the_console_no_longer_finds_the_person_and_cannot_lift_the_erasure(
    db: Database, history: History
) -> None:
    add_account(db.engine, "olga", role="operator")
    http = client(console(db.engine, db.url))  # http: its session cookie is not Secure
    sign_in(http, "olga")
    assert P_EMAIL in http.get("/contacts", params={"q": "nguyen"}).text
    erase_people(
        db.engine, [P_EMAIL], reason="letter of 1 June", actor="dpo",
        settings=history.settings, now=AFTER,
    )  # fmt: skip
    page = http.get("/contacts", params={"q": "erased"}).text
    assert "erased-" not in page.split("<h2", 2)[1]  # no tombstone among the contacts
    assert "erased on request: never lifted" in page
    with session_scope(db.engine) as session:
        [token] = [s.email for s in suppression_items(session) if s.erased]
    before = counts(db)
    lifted = http.post(
        "/suppressions/lift",
        data={"csrf": csrf_for(http, "/contacts"), "email": token, "reason": "by mistake"},
    )
    assert lifted.status_code == 400 and "cannot be lifted" in lifted.text
    with pytest.raises(SuppressionError, match="cannot be lifted"):
        lift_suppression(db.engine, email=token, reason="by mistake", actor="cli", now=AFTER)
    assert counts(db) == before
