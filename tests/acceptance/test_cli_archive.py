"""`outreach campaign archive SLUG` through the CLI, on SQLite and PostgreSQL: a finished
campaign is frozen — no planning, no sending, no reload, no pause or resume — and kept, with
its letters and funnel, for reporting; letters still to go out hold it back unless
`--cancel-unsent`, and letters being sent or of unknown fate hold it back always."""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

from sqlmodel import Session, select

from outreach.lifecycle import transition
from outreach.models import Message
from outreach.states import MessageStatus
from tests.acceptance.replies_kit import NOW, sent_sample
from tests.cli import run_cli
from tests.conftest import Database

LATER = "2010-10-15T12:00Z"  # the follow-ups and the invitation would be due by then


def statuses(db: Database) -> Counter[str]:
    with Session(db.engine) as s:
        return Counter(s.exec(select(Message.status)))


def test_unsent_letters_hold_the_archive_back_until_cancelled(db: Database) -> None:
    sent_sample(db)
    before = statuses(db)
    refused = run_cli("campaign", "archive", "ccm-2010", "--now", NOW, db_url=db.url)
    assert refused.returncode == 1 and refused.stderr.count("\n") == 1
    pending = before["pending_review"]
    assert f"letters not sent yet ({pending} pending_review)" in refused.stderr
    assert "--cancel-unsent" in refused.stderr
    assert statuses(db) == before

    archived = run_cli(
        "campaign",
        "archive",
        "ccm-2010",
        "--cancel-unsent",
        "--reason",
        "the campaign ended with the First Meeting",
        "--now",
        NOW,
        db_url=db.url,
    )
    assert archived.returncode == 0, archived.stderr
    assert archived.stdout.strip() == f"ccm-2010: archived; {pending} unsent letter(s) cancelled"
    assert statuses(db) == Counter({"sent": 3, "cancelled": pending})
    again = run_cli("campaign", "archive", "ccm-2010", db_url=db.url)
    assert again.returncode == 0 and "already archived" in again.stdout


def test_an_archived_campaign_is_frozen_and_kept_for_reporting(db: Database) -> None:
    sent_sample(db)
    run_cli("campaign", "archive", "ccm-2010", "--cancel-unsent", "--now", NOW, db_url=db.url)
    frozen = statuses(db)

    planned = run_cli("plan", "--now", LATER, db_url=db.url)
    assert planned.returncode == 0, planned.stderr
    assert statuses(db) == frozen
    sent = run_cli("send", "--now", LATER, db_url=db.url)
    assert sent.returncode == 0, sent.stderr
    assert statuses(db) == frozen
    loaded = run_cli("campaign", "load", "config/campaigns", "--now", LATER, db_url=db.url)
    assert loaded.returncode == 0, loaded.stderr
    assert "ccm-2010: archived, not reloaded" in loaded.stdout
    for verb in ("pause", "resume"):
        brake = run_cli("campaign", verb, "ccm-2010", db_url=db.url)
        assert brake.returncode == 1
        assert f"ccm-2010 is archived (frozen for reporting): cannot {verb}" in brake.stderr

    [listed] = json.loads(run_cli("campaign", "list", "--json", db_url=db.url).stdout)
    assert listed["state"] == "archived"
    report = json.loads(run_cli("status", "--json", "--now", LATER, db_url=db.url).stdout)
    assert report["campaigns"][0]["funnel"]["sent"] == 3
    [row] = csv.DictReader(io.StringIO(run_cli("status", "--csv", db_url=db.url).stdout))
    assert (row["state"], row["sent"]) == ("archived", "3")
    assert "[ARCHIVED]" in run_cli("status", "--now", LATER, db_url=db.url).stdout


def test_letters_being_sent_or_of_unknown_fate_hold_it_back(db: Database) -> None:
    sent_sample(db)
    with Session(db.engine) as s:
        m = s.exec(select(Message).where(Message.status == "pending_review")).first()
        assert m is not None
        for to in (MessageStatus.APPROVED, MessageStatus.SENDING):
            transition(s, m, to, now=m.scheduled_for, actor="t")
        s.commit()
        message_id = m.id
    busy = run_cli("campaign", "archive", "ccm-2010", "--cancel-unsent", db_url=db.url)
    assert busy.returncode == 1
    assert "1 letter(s) sending; wait for the dispatcher before archiving" in busy.stderr

    with Session(db.engine) as s:
        m = s.get(Message, message_id)
        assert m is not None
        transition(s, m, MessageStatus.UNKNOWN, now=m.scheduled_for, actor="t")
        s.commit()
    unknown = run_cli("campaign", "archive", "ccm-2010", "--cancel-unsent", db_url=db.url)
    assert unknown.returncode == 1
    assert "1 letter(s) unknown; resolve them (queue resolve) before archiving" in unknown.stderr
    assert statuses(db)["cancelled"] == 0

    assert run_cli("queue", "resolve", str(message_id), "--sent", db_url=db.url).returncode == 0
    done = run_cli("campaign", "archive", "ccm-2010", "--cancel-unsent", db_url=db.url)
    assert done.returncode == 0, done.stderr
    assert statuses(db)["sent"] == 4
