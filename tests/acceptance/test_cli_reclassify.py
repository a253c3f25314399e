"""Issue 12 through the CLI, on SQLite and PostgreSQL: `outreach replies reclassify` undoes a
wrong hard bounce and the next plan plans the contact's follow-up again; bad ids and classes
are one-line errors."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from sqlmodel import Session, select

from outreach.models import Contact, Message, Step
from tests.acceptance.replies_kit import NOW, SENT_AT, sent_sample
from tests.cli import run_cli

LATER = "2010-04-28T09:00Z"


def bounce(recipient: str, original_id: str, *, diagnostic: str, stage: str) -> bytes:
    return (
        "From: MAILER-DAEMON@relay.example.org (Mail Delivery System)\r\n"
        "To: outreach@example.org\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Date: Fri, 23 Apr 2010 09:00:05 +0200\r\n"
        f"Message-ID: <bounce.{abs(hash((recipient, diagnostic)))}@relay.example.org>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n"
        f"<{recipient}>: host mx.example.net[192.0.2.5] said: {diagnostic} (in reply to {stage}\r\n"
        "    command)\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; relay.example.org\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        f"Diagnostic-Code: smtp; {diagnostic}\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: outreach@example.org\r\nTo: {recipient}\r\nMessage-ID: {original_id}\r\n--B--\r\n"
    ).encode()


def follow_ups(db) -> set[str]:  # type: ignore[no-untyped-def]
    with Session(db.engine) as s:
        return {
            c.email
            for _, c in s.exec(
                select(Message, Contact)
                .join(Contact, Contact.id == Message.contact_id)
                .join(Step, Step.id == Message.step_id)
                .where(Step.key == "appeal-follow-up")
            )
        }


def test_reclassify_undoes_a_wrong_hard_bounce_end_to_end(db, tmp_path: Path) -> None:
    (mid1, email1, _), (mid2, email2, _), _ = sent_sample(db)
    (tmp_path / "hard.eml").write_bytes(
        bounce(email1, mid1, diagnostic="550 5.1.1 <x>: User unknown", stage="RCPT TO")
    )
    (tmp_path / "data.eml").write_bytes(
        bounce(email2, mid2, diagnostic="550 5.1.1 user unknown", stage="end of DATA")
    )
    imported = run_cli(
        "replies",
        "import",
        str(tmp_path / "hard.eml"),
        str(tmp_path / "data.eml"),
        "--now",
        NOW,
        db_url=db.url,
    )
    assert imported.returncode == 0, imported.stderr
    listed = json.loads(run_cli("replies", "list", "--json", db_url=db.url).stdout)
    by_contact = {item["contact"]: item for item in listed}
    hard, after_data = by_contact[email1], by_contact[email2]
    assert (hard["classification"], hard["strength"], hard["needs_review"]) == (
        "bounce_hard",
        "conclusive",
        False,
    )
    assert hard["evidence"]["stage"] == "rcpt" and hard["evidence"]["status_from"] == "diagnostic"
    assert (after_data["classification"], after_data["needs_review"]) == ("bounce_soft", True)
    assert after_data["evidence"]["stage"] == "data"
    flagged = json.loads(
        run_cli("replies", "list", "--needs-review", "--json", db_url=db.url).stdout
    )
    assert [item["id"] for item in flagged] == [after_data["id"]]
    table = run_cli("replies", "list", db_url=db.url).stdout
    assert "(needs review)" in table and "evidence (inconclusive, at data)" in table
    suppressions = json.loads(run_cli("suppressions", "list", "--json", db_url=db.url).stdout)
    assert [s["email"] for s in suppressions] == [email1]

    fixed = run_cli(
        "replies",
        "reclassify",
        str(hard["id"]),
        "bounce_soft",
        "--reason",
        "the ministry confirmed the address",
        "--now",
        LATER,
        db_url=db.url,
    )
    assert fixed.returncode == 0, fixed.stderr
    assert f"#{hard['id']}: bounce_hard -> bounce_soft" in fixed.stdout
    assert f"suppression lifted: {email1}" in fixed.stdout
    assert "bounced -> active" in fixed.stdout
    assert json.loads(run_cli("suppressions", "list", "--json", db_url=db.url).stdout) == []
    again = run_cli(
        "replies",
        "reclassify",
        str(hard["id"]),
        "bounce_soft",
        "--reason",
        "again",
        "--json",
        db_url=db.url,
    )
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] is False

    # nothing was re-sent; the next plan plans the follow-up again for the restored contact
    run_cli("plan", "--now", (SENT_AT + timedelta(days=12)).isoformat(), db_url=db.url)
    planned = follow_ups(db)
    assert email1 in planned and email2 in planned


def test_bad_ids_and_classes_are_one_line_errors(db, tmp_path: Path) -> None:
    (mid1, email1, _), _, _ = sent_sample(db)
    (tmp_path / "hard.eml").write_bytes(
        bounce(email1, mid1, diagnostic="550 5.1.1 User unknown", stage="RCPT TO")
    )
    run_cli("replies", "import", str(tmp_path / "hard.eml"), "--now", NOW, db_url=db.url)
    [item] = json.loads(run_cli("replies", "list", "--json", db_url=db.url).stdout)
    missing = run_cli("replies", "reclassify", "999", "human", "--reason", "x", db_url=db.url)
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: no inbound message 999 (see outreach replies list)"
    ]
    wrong = run_cli(
        "replies", "reclassify", str(item["id"]), "bounce", "--reason", "x", db_url=db.url
    )
    assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1
    assert "'bounce' is not a class" in wrong.stderr and "bounce_hard" in wrong.stderr
    assert run_cli("replies", "reclassify", str(item["id"]), "human", db_url=db.url).returncode == 2
    assert (
        run_cli("replies", "reclassify", "x", "human", "--reason", "r", db_url=db.url).returncode
        == 2
    )
    [after] = json.loads(run_cli("replies", "list", "--json", db_url=db.url).stdout)
    assert after["classification"] == "bounce_hard"
