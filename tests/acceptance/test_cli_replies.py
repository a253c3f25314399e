"""Issue 6 through the real CLI: `outreach replies import | fetch | list`."""

from __future__ import annotations

import json
import mailbox
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from outreach.models import Contact, Message, Step
from outreach.planner import plan
from tests.acceptance.replies_kit import NOW, SENT_AT, sent_sample
from tests.cli import run_cli, run_cli_process
from tests.dovecot import PASSWORD, DovecotServer, dovecot_available
from tests.planning import sample_settings


def eml(
    frm: str, in_reply_to: str | None, body: str, n: int, subject: str = "Re: your letter"
) -> bytes:
    irt = f"In-Reply-To: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        f"From: Correspondent <{frm}>\r\nTo: outreach@example.org\r\nSubject: {subject}\r\n"
        f"Date: Mon, 26 Apr 2010 10:00:00 +0200\r\nMessage-ID: <cli{n}@example.net>\r\n{irt}"
        f"\r\n{body}\r\n\r\n-- \r\nA. Signature\r\nMinistry of Foreign Affairs\r\n"
        f"\r\nOn Fri, 23 Apr 2010, Coalition wrote:\r\n> Dear Minister,\r\n"
    ).encode()


def test_import_then_list_who_answered_which_letter(db, tmp_path: Path) -> None:
    sent = sent_sample(db)
    (mid1, email1, subject1), (mid2, email2, _), _ = sent
    one = tmp_path / "one.eml"
    one.write_bytes(eml(email1, mid1, "We support the Convention and will attend.", 1))
    box = mailbox.mbox(tmp_path / "more.mbox")
    box.add(eml(email2, mid2, "Please remove me from your list.", 2, subject="Unsubscribe"))
    box.add(eml("stranger@example.net", None, "Who is this?", 3, subject="Hello"))
    box.close()
    result = run_cli(
        "replies", "import", str(one), str(tmp_path / "more.mbox"), "--now", NOW, db_url=db.url
    )
    assert result.returncode == 0, result.stderr
    assert "3 new" in result.stdout and "human" in result.stdout and "unsubscribe" in result.stdout
    again = run_cli("replies", "import", str(one), "--json", "--now", NOW, db_url=db.url)
    assert again.returncode == 0, again.stderr
    doc = json.loads(again.stdout)
    assert (doc["processed"], doc["duplicates"]) == (0, 1)

    listed = json.loads(run_cli("replies", "list", "--json", db_url=db.url).stdout)
    assert len(listed) == 3
    human = next(r for r in listed if r["from_addr"] == email1)
    assert human["classification"] == "human"
    assert human["contact"] == email1 and human["campaign"] == "ccm-2010"
    assert human["step"] == "appeal" and human["matched_subject"] == subject1
    assert human["matched_message_id"] == mid1 and human["match_method"] == "in_reply_to"
    assert (
        human["snippet"] == "We support the Convention and will attend."
    )  # no quote, no signature
    assert human["received_at"].startswith("2010-04-26T08:00:00")
    expected_keys = {
        "id",
        "received_at",
        "classification",
        "reason",
        "from_addr",
        "subject",
        "snippet",
        "contact",
        "contact_name",
        "campaign",
        "step",
        "matched_message_id",
        "matched_subject",
        "match_method",
        "bounce_status",
        "message_id",
        "error",
        "source",
        "raw_size",
        "evidence",
        "strength",
        "needs_review",
    }
    assert set(human) == expected_keys

    unmatched = json.loads(
        run_cli("replies", "list", "--unmatched", "--json", db_url=db.url).stdout
    )
    assert [r["from_addr"] for r in unmatched] == ["stranger@example.net"]
    unsub = json.loads(
        run_cli("replies", "list", "--class", "unsubscribe", "--json", db_url=db.url).stdout
    )
    assert [r["contact"] for r in unsub] == [email2]
    in_campaign = json.loads(
        run_cli("replies", "list", "--campaign", "ccm-2010", "--json", db_url=db.url).stdout
    )
    assert len(in_campaign) == 2
    table = run_cli("replies", "list", db_url=db.url)
    assert table.returncode == 0 and "We support the Convention" in table.stdout
    assert "(unmatched)" in table.stdout


def test_a_replier_gets_no_follow_up(sqlite_db, tmp_path: Path) -> None:
    sent = sent_sample(sqlite_db)
    (mid1, email1, _), (_, email2, _), _ = sent
    (tmp_path / "r.eml").write_bytes(eml(email1, mid1, "Thank you, noted.", 9))
    assert (
        run_cli("replies", "import", str(tmp_path / "r.eml"), db_url=sqlite_db.url).returncode == 0
    )
    settings = sample_settings(sqlite_db.url)
    plan(sqlite_db.engine, now=SENT_AT + timedelta(days=12), settings=settings)
    with Session(sqlite_db.engine) as s:
        follow = {
            c.email
            for _, c in s.exec(
                select(Message, Contact)
                .join(Contact, Contact.id == Message.contact_id)
                .join(Step, Step.id == Message.step_id)
                .where(Step.key == "appeal-follow-up")
            )
        }
    assert email2 in follow and email1 not in follow


def test_user_errors_are_one_line(sqlite_db, tmp_path: Path) -> None:
    missing = run_cli("replies", "import", str(tmp_path / "nope.eml"), db_url=sqlite_db.url)
    assert missing.returncode == 1 and "nope.eml" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    fetch = run_cli("replies", "fetch", db_url=sqlite_db.url)
    assert fetch.returncode == 1
    assert fetch.stderr.strip().splitlines() == [
        "error: IMAP is not configured: set OUTREACH_IMAP_HOST, OUTREACH_IMAP_USERNAME and "
        "OUTREACH_IMAP_PASSWORD."
    ]
    bad = run_cli("replies", "list", "--campaign", "nope", db_url=sqlite_db.url)
    assert bad.returncode == 1 and "no campaign 'nope'" in bad.stderr
    usage = run_cli("replies", "list", "--class", "martian", db_url=sqlite_db.url)
    assert usage.returncode == 2
    for cmd in ("fetch", "import", "list"):
        helped = run_cli("replies", cmd, "--help", db_url=sqlite_db.url)
        assert helped.returncode == 0 and "Usage" in helped.stdout


@pytest.mark.dovecot
@pytest.mark.skipif(
    not dovecot_available(), reason="dovecot is not installed (apt-get install dovecot-imapd)"
)
def test_fetch_from_dovecot_in_a_real_process(sqlite_db) -> None:
    sent = sent_sample(sqlite_db)
    mid, email, _ = sent[0]
    with DovecotServer() as server:
        server.append(eml(email, mid, "Count us in.", 20))
        env = {
            "OUTREACH_IMAP_HOST": "127.0.0.1",
            "OUTREACH_IMAP_PORT": str(server.port),
            "OUTREACH_IMAP_USERNAME": server.username,
            "OUTREACH_IMAP_PASSWORD": PASSWORD,
            "OUTREACH_IMAP_TLS": "none",
        }
        first = run_cli_process("replies", "fetch", "--now", NOW, db_url=sqlite_db.url, env=env)
        assert first.returncode == 0, first.stderr
        assert "1 new (human 1)" in first.stdout
        assert PASSWORD not in first.stdout + first.stderr
        second = run_cli("replies", "fetch", "--json", "--now", NOW, db_url=sqlite_db.url, env=env)
        assert second.returncode == 0, second.stderr
        assert json.loads(second.stdout)["processed"] == 0
        wrong = run_cli(
            "replies",
            "fetch",
            db_url=sqlite_db.url,
            env={**env, "OUTREACH_IMAP_PASSWORD": "nope-Wr0ng"},
        )
        assert wrong.returncode == 1 and "log in" in wrong.stderr
        assert "nope-Wr0ng" not in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
