"""`outreach review …` and `outreach queue list` as a user runs them: a real process."""

from __future__ import annotations

import hashlib
import json
import shlex
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import Session, select

from outreach import review
from outreach.accounts.users import active_account, add_user
from outreach.db import session_scope
from outreach.errors import ReviewError
from outreach.models import Approval, Event, Message
from outreach.review.editfile import EditableContent, format_editable, parse_editable
from tests.cli import run_cli
from tests.factories import T0, make_campaign, make_contact, make_message, make_step

REVIEW_FIELDS = {
    "id", "campaign", "step", "to_email", "to_name", "subject", "scheduled_for_utc",
    "scheduled_for_campaign", "campaign_timezone", "scheduled_for_recipient",
    "recipient_timezone", "approvals", "approvals_required", "edited", "stale", "stale_reason",
    "language",
}  # fmt: skip
QUEUE_FIELDS = {
    "id", "campaign", "step", "to_email", "subject", "status", "scheduled_for", "attempts",
    "next_attempt_at", "sent_at", "smtp_code", "smtp_response", "next_try_at", "waiting_reason",
}  # fmt: skip


def run(db, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in-process (same ``main()``); stdin is never a TTY, so ``--all`` must refuse
    without ``--yes``."""
    full_env = {"OUTREACH_REVIEWER": "carol", "COLUMNS": "250", **(env or {})}
    return run_cli(*args, db_url=db.url, env=full_env)


def seed(db, n: int = 2, *, approvals_required: int = 1, slug: str = "ccm") -> list[int]:
    """``n`` pending messages of a new campaign; the reviewer accounts alice, bob and carol
    exist (the CLI acts as an account only when it exists)."""
    with session_scope(db.engine) as s:
        for name in ("alice", "bob", "carol"):
            if active_account(s, name=name) is None:
                add_user(s, name=name, role="reviewer", now=T0, actor="test")
        camp = make_campaign(s, slug, approvals_required=approvals_required)
        step = make_step(s, camp)
        return [
            make_message(
                s,
                campaign=camp,
                step=step,
                contact=make_contact(s, f"{slug}{i}@example.org", name=f"Minister {i}"),
                subject=f"[bold]Letter {i}[/bold]",
                scheduled_for=T0 + timedelta(days=i),
            ).id
            for i in range(n)
        ]


def statuses(db) -> dict[int, str]:
    with Session(db.engine) as s:
        return {m.id: m.status for m in s.exec(select(Message)).all()}


def counts(db) -> tuple[int, int]:
    with Session(db.engine) as s:
        return len(s.exec(select(Approval)).all()), len(s.exec(select(Event)).all())


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_review_list_json_is_stable_and_parsed_back(db) -> None:
    ids = seed(db, 3, approvals_required=2)
    with session_scope(db.engine) as s:
        review.approve(s, [ids[0]], reviewer="alice", now=T0)
    result = run(db, "review", "list", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert [row["id"] for row in data] == ids
    assert all(set(row) == REVIEW_FIELDS for row in data)
    first = data[0]
    assert first["approvals"] == ["alice"] and first["approvals_required"] == 2
    assert first["to_email"] == "ccm0@example.org" and first["to_name"] == "Minister 0"
    assert first["subject"] == "[bold]Letter 0[/bold]"
    assert first["scheduled_for_utc"] == "2010-04-20T12:00:00+00:00"
    assert first["scheduled_for_campaign"] == "2010-04-20T14:00:00+02:00"
    assert first["stale"] is False

    empty = run(db, "review", "list", "--campaign", "nosuch")
    assert "no campaign 'nosuch'" in one_line_error(empty)

    table = run(db, "review", "list")
    assert table.returncode == 0 and "[bold]Letter 1[/bold]" in table.stdout  # not markup


def test_queue_list_json_and_status_filter(db) -> None:
    ids = seed(db, 3)
    with session_scope(db.engine) as s:
        review.approve(s, [ids[1]], reviewer="alice", now=T0)
    everything = json.loads(run(db, "queue", "list", "--json").stdout)
    assert [row["id"] for row in everything] == ids
    assert all(set(row) == QUEUE_FIELDS for row in everything)
    approved = json.loads(run(db, "queue", "list", "--status", "approved", "--json").stdout)
    assert [(row["id"], row["status"]) for row in approved] == [(ids[1], "approved")]
    limited = json.loads(run(db, "queue", "list", "--limit", "2", "--json").stdout)
    assert [row["id"] for row in limited] == ids[:2]
    bad = run(db, "queue", "list", "--status", "bogus")
    assert bad.returncode == 2 and "pending_review" in bad.stderr and "approved" in bad.stderr
    table = run(db, "queue", "list")
    assert table.returncode == 0 and "approved" in table.stdout


def test_approve_uses_the_reviewer_from_the_environment(sqlite_db) -> None:
    db = sqlite_db
    (mid,) = seed(db, 1)
    result = run(db, "review", "approve", str(mid), "--note", "checked the dates")
    assert result.returncode == 0, result.stderr
    assert f"message {mid} approved (carol)" in result.stdout
    with Session(db.engine) as s:
        (approval,) = s.exec(select(Approval)).all()
        message = s.get(Message, mid)
    assert (approval.reviewer, approval.note) == ("carol", "checked the dates")
    assert message.status == "approved" and message.approved_hash == message.content_hash


def test_same_reviewer_twice_is_refused(sqlite_db) -> None:
    db = sqlite_db
    (mid,) = seed(db, 1, approvals_required=2)
    as_alice = {"LOGNAME": "alice-login"}
    first = run(db, "review", "approve", str(mid), "--reviewer", "alice", env=as_alice)
    assert first.returncode == 0 and "approval 1 of 2" in first.stdout
    again = run(db, "review", "approve", str(mid), "--reviewer", "alice", env=as_alice)
    assert f"reviewer alice already approved message {mid}" in one_line_error(again)
    # the same OS login cannot be the second reviewer by naming another account
    same_login = run(db, "review", "approve", str(mid), "--reviewer", "bob", env=as_alice)
    assert f"login alice-login already approved message {mid} (as alice)" in one_line_error(
        same_login
    )
    as_bob = {"LOGNAME": "bob-login"}
    second = run(db, "review", "approve", str(mid), "--reviewer", "bob", env=as_bob)
    assert second.returncode == 0 and f"message {mid} approved (alice, bob)" in second.stdout


@pytest.mark.parametrize("bad", ["missing", "not_pending"])
def test_approve_batch_error_is_one_line_and_changes_nothing(db, bad: str) -> None:
    ids = seed(db, 3)
    if bad == "missing":
        target = max(ids) + 100
    else:
        target = ids[2]
        with session_scope(db.engine) as s:
            review.reject(s, [target], reviewer="alice", reason="tone", now=T0)
    before_status, before_counts = statuses(db), counts(db)
    result = run(db, "review", "approve", str(ids[0]), str(target), str(ids[1]))
    line = one_line_error(result)
    assert str(target) in line and "nothing was approved" in line
    assert statuses(db) == before_status
    assert counts(db) == before_counts


def test_reject_without_reason_is_a_usage_error(sqlite_db) -> None:
    db = sqlite_db
    (mid,) = seed(db, 1)
    result = run(db, "review", "reject", str(mid))
    assert result.returncode == 2 and "--reason" in result.stderr
    assert statuses(db)[mid] == "pending_review"
    empty = run(db, "review", "reject", str(mid), "--reason", " ")
    assert "reason is required" in one_line_error(empty)
    ok = run(db, "review", "reject", str(mid), "--reason", "wrong addressee")
    assert ok.returncode == 0 and statuses(db)[mid] == "rejected"
    assert "rejected" in one_line_error(run(db, "review", "approve", str(mid)))


def test_approve_all_asks_and_needs_yes_without_a_terminal(sqlite_db) -> None:
    db = sqlite_db
    ids = seed(db, 2) + seed(db, 1, slug="msp")
    refused = run(db, "review", "approve", "--all")
    line = one_line_error(refused)
    assert "3 message(s)" in line and "ccm (2)" in line and "msp (1)" in line and "--yes" in line
    assert set(statuses(db).values()) == {"pending_review"}
    only = run(db, "review", "approve", "--all", "--campaign", "msp", "--yes")
    assert only.returncode == 0, only.stderr
    assert statuses(db) == {ids[0]: "pending_review", ids[1]: "pending_review", ids[2]: "approved"}
    rest = run(db, "review", "approve", "--all", "--yes")
    assert rest.returncode == 0 and set(statuses(db).values()) == {"approved"}
    nothing = run(db, "review", "approve", "--all", "--yes")
    assert nothing.returncode == 0 and "no messages" in nothing.stdout
    assert run(db, "review", "approve").returncode == 2
    assert run(db, "review", "approve", "1", "--all").returncode == 2


def test_show_prints_headers_text_and_history(sqlite_db) -> None:
    db = sqlite_db
    (mid,) = seed(db, 1)
    raw = (
        b"From: Coalition <outreach@example.org>\r\nTo: ccm0@example.org\r\n"
        b"Subject: 100 days to go\r\nDate: Mon, 10 May 2010 09:00:00 +0200\r\n"
        b"Message-ID: <x1@example.org>\r\n"
        b"List-Unsubscribe: <mailto:outreach@example.org?subject=unsubscribe>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n\r\nDear Minister,\r\n100 days remain.\r\n"
    )
    with session_scope(db.engine) as s:
        m = s.get(Message, mid)
        m.body.raw, m.content_hash = raw, hashlib.sha256(raw).hexdigest()
        m.render_context = {"days_until": 100}
    with session_scope(db.engine) as s:
        review.approve(s, [mid], reviewer="alice", now=T0)
    result = run(db, "review", "show", str(mid))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "From: Coalition <outreach@example.org>",
        "Subject: 100 days to go",
        "Date: Mon, 10 May 2010 09:00:00 +0200",
        "List-Unsubscribe: <mailto:outreach@example.org?subject=unsubscribe>",
        "100 days remain.",
        '"days_until": 100',
        "alice  approved  pending_review → approved",
    ):
        assert expected in out
    assert "does not exist" in one_line_error(run(db, "review", "show", "999999"))


def write_editor(tmp_path: Path, body: str) -> str:
    script = tmp_path / "editor.py"
    script.write_text("import sys\npath = sys.argv[1]\n" + body)
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(script))}"


def test_edit_without_change_and_with_a_broken_file(sqlite_db, tmp_path: Path) -> None:
    db = sqlite_db
    (mid,) = seed(db, 1)
    before = counts(db)
    untouched = write_editor(tmp_path, "pass\n")
    result = run(db, "review", "edit", str(mid), env={"EDITOR": untouched})
    assert result.returncode == 0 and "no change" in result.stdout
    broken = write_editor(tmp_path, "open(path, 'w').write('hello without a subject line\\n')\n")
    line = one_line_error(run(db, "review", "edit", str(mid), env={"EDITOR": broken}))
    assert "line 1" in line
    failing = write_editor(tmp_path, "sys.exit(3)\n")
    line = one_line_error(run(db, "review", "edit", str(mid), env={"EDITOR": failing}))
    assert "status 3" in line
    assert counts(db) == before


def test_edit_with_a_change_goes_through_the_planner(sqlite_db, tmp_path: Path) -> None:
    db = sqlite_db
    (mid,) = seed(db, 1, approvals_required=2)
    assert run(db, "review", "approve", str(mid), "--reviewer", "alice").returncode == 0
    editor = write_editor(
        tmp_path,
        "text = open(path).read().replace('hello', 'Dear Minister, 100 days remain.')\n"
        "open(path, 'w').write(text)\n",
    )
    result = run(db, "review", "edit", str(mid), env={"EDITOR": editor})
    assert result.returncode == 0, result.stderr
    assert "approvals cleared (alice)" in result.stdout
    with Session(db.engine) as s:
        m = s.get(Message, mid)
        assert m.body.text.startswith("Dear Minister") and m.edited and m.status == "pending_review"
        assert s.exec(select(Approval)).all() == []


def test_editable_file_round_trip() -> None:
    original = EditableContent("100 days to go", "Dear Minister,\n\nhello", "<p>hello</p>")
    source = format_editable(original)
    assert source.startswith("Subject: 100 days to go\n\nDear Minister,\n\nhello\n--- html ---\n")
    assert parse_editable(source, original) == original
    changed = parse_editable(source.replace("hello\n---", "bye\n---"), original)
    assert changed.text == "Dear Minister,\n\nbye\n" and changed.html == original.html
    dropped = parse_editable(source.replace("<p>hello</p>\n", ""), original)
    assert dropped.html is None
    with pytest.raises(ReviewError, match="html ---' line is missing"):
        parse_editable("Subject: x\n\nno html section\n", original)
    with pytest.raises(ReviewError, match="line 2"):
        parse_editable("Subject: x\nnot blank\n", original)
    plain = EditableContent("s", "t", None)
    assert parse_editable(format_editable(plain), plain) == plain
