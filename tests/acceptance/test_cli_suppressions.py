"""`outreach suppressions list|add|remove` through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from sqlmodel import Session, select

from outreach.models import Contact, Message
from tests.acceptance.replies_kit import sent_sample
from tests.cli import run_cli

NOW = "2010-04-27T12:00Z"


def unsent_statuses(db, email: str) -> set[str]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return set(
            s.exec(
                select(Message.status)
                .join(Contact, Contact.id == Message.contact_id)
                .where(Contact.email == email, Message.sent_at.is_(None))  # type: ignore[union-attr]
            )
        )


def a_contact_with_unsent_letters(db) -> str:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return s.exec(
            select(Contact.email)
            .join(Message, Message.contact_id == Contact.id)
            .where(Message.sent_at.is_(None))  # type: ignore[union-attr]
            .order_by(Contact.email)
        ).first()


def test_add_list_and_remove_with_reasons(db) -> None:
    sent_sample(db)
    email = a_contact_with_unsent_letters(db)
    assert unsent_statuses(db, email) - {"cancelled"}
    added = run_cli(
        "suppressions",
        "add",
        email.upper(),
        "--reason",
        "asked by phone on 27 April",
        "--now",
        NOW,
        db_url=db.url,
    )
    assert added.returncode == 0, added.stderr
    assert f"{email}: suppressed;" in added.stdout and "unsent letter(s) cancelled" in added.stdout
    assert unsent_statuses(db, email) == {"cancelled"}
    [item] = json.loads(run_cli("suppressions", "list", "--json", db_url=db.url).stdout)
    assert (item["email"], item["reason"], item["detail"]) == (
        email,
        "operator",
        "asked by phone on 27 April",
    )
    assert item["actor"] and item["created_at"].startswith("2010-04-27T12:00:00")
    table = run_cli("suppressions", "list", db_url=db.url)
    assert table.returncode == 0 and email in table.stdout
    twice = run_cli("suppressions", "add", email, "--reason", "again", db_url=db.url)
    assert twice.returncode == 0 and "already suppressed" in twice.stdout

    removed = run_cli(
        "suppressions",
        "remove",
        email,
        "--reason",
        "added by mistake",
        "--now",
        NOW,
        db_url=db.url,
    )
    assert removed.returncode == 0, removed.stderr
    assert "suppression lifted; nothing is re-sent" in removed.stdout
    assert json.loads(run_cli("suppressions", "list", "--json", db_url=db.url).stdout) == []
    assert unsent_statuses(db, email) == {"cancelled"}  # lifting re-sends nothing
    again = run_cli("suppressions", "remove", email, "--reason", "again", db_url=db.url)
    assert again.returncode == 0 and "was not suppressed" in again.stdout
    assert (
        run_cli("suppressions", "list", db_url=db.url).stdout.strip() == "no suppressed addresses"
    )


def test_bad_input_is_one_line_and_usage_errors_exit_2(db) -> None:
    sent_sample(db)
    bad = run_cli("suppressions", "add", "not an address", "--reason", "x", db_url=db.url)
    assert bad.returncode == 1 and len(bad.stderr.strip().splitlines()) == 1
    assert bad.stderr.startswith("error: email:")
    empty = run_cli("suppressions", "add", "a@example.org", "--reason", " ", db_url=db.url)
    assert empty.returncode == 1 and "--reason" in empty.stderr
    assert run_cli("suppressions", "add", "a@example.org", db_url=db.url).returncode == 2
    assert run_cli("suppressions", "remove", "a@example.org", db_url=db.url).returncode == 2
    assert json.loads(run_cli("suppressions", "list", "--json", db_url=db.url).stdout) == []
    for cmd in ("list", "add", "remove"):
        helped = run_cli("suppressions", cmd, "--help", db_url=db.url)
        assert helped.returncode == 0 and "Usage" in helped.stdout
