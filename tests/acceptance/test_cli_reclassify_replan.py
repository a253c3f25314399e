"""Issue 12 through the CLI, on SQLite and PostgreSQL: the letters a wrongly classified reply
cancelled come back when an operator corrects it (`outreach replies reclassify`) — back in
review, never sent before a reviewer approves them, sent once — unless another suppression
still stops them; running the correction twice changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

from outreach.smtpsink.server import SmtpSink
from tests.acceptance.replies_kit import bounce, sent_sample
from tests.campaign_kit import smtp_env
from tests.cli import run_cli

#: The appeals went on 23 April; their follow-ups fall due on 7 May and are planned from the 4th.
PLANNED = "2010-05-05T12:00Z"
BOUNCED = "2010-05-05T13:00Z"
CORRECTED = "2010-05-06T09:00Z"
FOLLOW_UP_DAY = "2010-05-07T13:00Z"


def cli_json(db, *args: str):  # type: ignore[no-untyped-def]
    result = run_cli(*args, "--json", db_url=db.url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def follow_ups(db) -> dict[str, dict]:  # type: ignore[no-untyped-def]
    """Every follow-up letter in the queue, by recipient."""
    items = cli_json(db, "queue", "list")
    mine = [item for item in items if item["step"] == "appeal-follow-up"]
    assert len(mine) == len({item["to_email"] for item in mine})  # one per contact, ever
    return {item["to_email"]: item for item in mine}


def import_bounce(db, tmp_path: Path, name: str, email: str, original: str, diagnostic: str) -> int:  # type: ignore[no-untyped-def]
    """Import a conclusive hard bounce (refused at RCPT) of ``original``; its inbound id."""
    path = tmp_path / f"{name}.eml"
    path.write_bytes(bounce(email, original, diagnostic=diagnostic, stage="RCPT TO"))
    imported = run_cli("replies", "import", str(path), "--now", BOUNCED, db_url=db.url)
    assert imported.returncode == 0, imported.stderr
    newest = cli_json(db, "replies", "list", "--limit", "1")[0]
    assert (newest["classification"], newest["strength"]) == ("bounce_hard", "conclusive")
    return newest["id"]


def reclassify(db, inbound_id: int, *extra: str):  # type: ignore[no-untyped-def]
    result = run_cli(
        "replies",
        "reclassify",
        str(inbound_id),
        "bounce_soft",
        "--reason",
        "the ministry confirmed the address",
        "--now",
        CORRECTED,
        *extra,
        db_url=db.url,
    )
    assert result.returncode == 0, result.stderr
    return result


def planned_world(db):  # type: ignore[no-untyped-def]
    """Three appeals sent, their follow-ups planned; the first follow-up approved."""
    sample = sent_sample(db)
    assert run_cli("plan", "--now", PLANNED, db_url=db.url).returncode == 0
    planned = follow_ups(db)
    assert {email for _, email, _ in sample} <= set(planned)
    first = planned[sample[0][1]]
    assert first["status"] == "pending_review"
    approve = run_cli("review", "approve", str(first["id"]), "--now", PLANNED, db_url=db.url)
    assert approve.returncode == 0, approve.stderr
    return sample, first["id"]


def test_a_corrected_bounce_brings_its_follow_up_back_to_review_and_it_leaves_once(
    db, tmp_path: Path
) -> None:
    sample, follow_id = planned_world(db)
    mid, email, _ = sample[0]
    inbound = import_bounce(db, tmp_path, "hard", email, mid, "550 5.1.1 <x>: User unknown")
    assert follow_ups(db)[email]["status"] == "cancelled"
    assert [s["email"] for s in cli_json(db, "suppressions", "list")] == [email]

    fixed = reclassify(db, inbound)
    assert f"suppression lifted: {email}" in fixed.stdout
    assert (
        f"letter {follow_id} (ccm-2010 / appeal-follow-up, {email}): planned again, "
        "pending_review for 2010-05-07 " in fixed.stdout
    ), fixed.stdout
    back = follow_ups(db)[email]
    assert (back["id"], back["status"]) == (follow_id, "pending_review")
    [in_review] = [i for i in cli_json(db, "review", "list") if i["id"] == follow_id]
    assert (in_review["approvals"], in_review["stale"]) == ([], False)  # its approval is gone
    history = run_cli("review", "show", str(follow_id), db_url=db.url).stdout
    assert "reinstated" in history and "cancelled → pending_review" in history

    with SmtpSink() as smtp:
        env = smtp_env(smtp.host, smtp.port)
        waiting = run_cli("send", "--now", FOLLOW_UP_DAY, db_url=db.url, env=env)
        assert waiting.returncode == 0, waiting.stderr
        assert smtp.received == []  # not approved again: nothing leaves
        approve = run_cli("review", "approve", str(follow_id), "--now", CORRECTED, db_url=db.url)
        assert approve.returncode == 0, approve.stderr
        for _ in range(2):
            sent = run_cli("send", "--now", FOLLOW_UP_DAY, db_url=db.url, env=env)
            assert sent.returncode == 0, sent.stderr
        assert [tuple(r.rcpt_tos) for r in smtp.received] == [(email,)]
    assert follow_ups(db)[email]["status"] == "sent"

    again = reclassify(db, inbound)
    assert f"#{inbound}: already bounce_soft; nothing changed" in again.stdout
    assert run_cli("plan", "--now", FOLLOW_UP_DAY, db_url=db.url).returncode == 0
    assert follow_ups(db)[email]["status"] == "sent"


def test_a_second_bounce_still_in_force_keeps_the_letters_cancelled(db, tmp_path: Path) -> None:
    sample, follow_id = planned_world(db)
    mid, email, _ = sample[0]
    first = import_bounce(db, tmp_path, "first", email, mid, "550 5.1.1 <x>: User unknown")
    second = import_bounce(db, tmp_path, "second", email, mid, "550 5.1.1 No such user here")
    assert follow_ups(db)[email]["status"] == "cancelled"

    fixed = reclassify(db, first)
    assert f"still in force: reply #{second}" in fixed.stdout, fixed.stdout
    assert (
        f"letter {follow_id} (ccm-2010 / appeal-follow-up, {email}): stays cancelled: "
        f"the address is suppressed (bounce_hard, reply #{second})" in fixed.stdout
    ), fixed.stdout
    assert follow_ups(db)[email]["status"] == "cancelled"
    [suppression] = cli_json(db, "suppressions", "list")
    assert (suppression["email"], suppression["inbound_id"]) == (email, second)
    as_json = cli_json(db, "replies", "reclassify", str(first), "bounce_soft", "--reason", "x")
    assert as_json["changed"] is False  # idempotent: the class is already set

    # the second bounce was wrong too: now nothing stops the letter
    done = json.loads(reclassify(db, second, "--json").stdout)
    assert done["lifted"] == [email], done
    assert [(f["message_id"], f["status"]) for f in done["letters"]] == [
        (follow_id, "pending_review")
    ]
    assert follow_ups(db)[email]["status"] == "pending_review"
    assert cli_json(db, "suppressions", "list") == []
    twice = json.loads(reclassify(db, second, "--json").stdout)
    assert (twice["changed"], twice["letters"]) == (False, [])
    assert follow_ups(db)[email]["status"] == "pending_review"
