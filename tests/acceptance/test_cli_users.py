"""`outreach users …` and who the CLI acts as: the OS login, and an account only when
``--reviewer`` (or $OUTREACH_REVIEWER) names an active one; a campaign with
``review_channel = "web"`` refuses CLI approvals."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from sqlmodel import Session, select

from outreach.accounts.users import password_link_account
from outreach.models import Account, Event
from tests.cli import REPO, run_cli
from tests.factories import T0
from tests.web_kit import seed_pending

LOGIN = {"LOGNAME": "ops-login"}


def run(db, *args: str, env: dict[str, str] | None = None, input: str | None = None):
    return run_cli(
        *args, db_url=db.url, env={**LOGIN, "COLUMNS": "200", **(env or {})}, input=input
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, result.stderr
    return result.stderr


def test_users_add_list_passwd_token_disable(db) -> None:
    added = run(db, "users", "add", "alice", "--role", "reviewer")
    assert added.returncode == 0, added.stderr
    link = added.stdout.strip().splitlines()[-1]
    assert link.startswith("http://127.0.0.1:8080/set-password/")
    with Session(db.engine) as s:
        assert password_link_account(s, token=link.rsplit("/", 1)[1], now=T0).name == "alice"
    prompted = run(
        db, "users", "add", "bob", "--role", "admin", "--prompt", input="a long password\n"
    )
    assert prompted.returncode == 0 and "set-password" not in prompted.stdout
    listed = json.loads(run(db, "users", "list", "--json").stdout)
    assert [(u["name"], u["role"], u["active"], u["has_password"]) for u in listed] == [
        ("alice", "reviewer", True, False),
        ("bob", "admin", True, True),
    ]
    assert run(db, "users", "passwd", "alice", input="another long one\n").returncode == 0
    token = run(db, "users", "token", "alice")
    assert token.returncode == 0 and len(token.stdout.strip()) == 43
    assert run(db, "users", "disable", "alice").returncode == 0
    assert json.loads(run(db, "users", "list", "--json").stdout)[0]["active"] is False
    assert "already exists" in one_line_error(run(db, "users", "add", "bob", "--role", "reviewer"))
    assert "role 'chief'" in one_line_error(run(db, "users", "add", "carl", "--role", "chief"))
    assert "at least 10" in one_line_error(run(db, "users", "passwd", "bob", input="short\n"))
    with Session(db.engine) as s:
        actors = {e.actor for e in s.exec(select(Event).where(Event.entity == "account"))}
        hashes = [a.password_hash for a in s.exec(select(Account))]
    assert actors == {"ops-login"}
    assert all(h is None or h.startswith("$argon2id$") for h in hashes)


def test_reviewer_must_be_an_active_account(db) -> None:
    (mid,) = seed_pending(db.engine)
    refused = run(db, "review", "approve", str(mid), "--reviewer", "mallory")
    assert "'mallory' is not an active account" in one_line_error(refused)
    from_env = run(db, "review", "approve", str(mid), env={"OUTREACH_REVIEWER": "mallory"})
    assert "'mallory' is not an active account" in one_line_error(from_env)
    run(db, "users", "add", "alice", "--role", "reviewer")
    ok = run(db, "review", "approve", str(mid), "--reviewer", "alice")
    assert ok.returncode == 0 and f"message {mid} approved (alice)" in ok.stdout
    with Session(db.engine) as s:
        last = s.exec(select(Event).where(Event.entity == "message")).one()
    assert last.actor == "alice via cli by ops-login"


def test_without_reviewer_the_cli_records_the_login(db) -> None:
    (mid,) = seed_pending(db.engine)
    ok = run(db, "review", "reject", str(mid), "--reason", "tone")
    assert ok.returncode == 0, ok.stderr
    with Session(db.engine) as s:
        last = s.exec(select(Event).where(Event.entity == "message")).one()
    assert (last.actor, last.data["reviewer"]) == ("ops-login", "ops-login")


def test_web_review_campaign_refuses_cli_approvals(db, tmp_path: Path) -> None:
    text = (REPO / "config" / "campaigns" / "ccm-2010.toml").read_text("utf-8")
    shutil.copytree(REPO / "config" / "campaigns" / "files", tmp_path / "files")
    campaign = tmp_path / "web-only.toml"
    campaign.write_text(
        text.replace("approvals_required = 1", 'approvals_required = 1\nreview_channel = "web"')
    )
    loaded = run(db, "campaign", "load", str(campaign))
    assert loaded.returncode == 0, loaded.stderr
    shown = json.loads(
        run(db, "campaign", "show", "ccm-2010", "--json", "--now", T0.isoformat()).stdout
    )
    assert shown["review_channel"] == "web"
    run(db, "contacts", "import", str(REPO / "config" / "contacts" / "ccm-2010-sample.csv"))
    assert run(db, "plan", "--now", "2010-04-20T12:00Z").returncode == 0
    pending = json.loads(run(db, "review", "list", "--json").stdout)
    refused = run(db, "review", "approve", str(pending[0]["id"]))
    assert 'review_channel = "web"' in one_line_error(refused)
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace("approvals_required = 1", 'approvals_required = 1\nreview_channel = "email"')
    )
    assert "review_channel" in one_line_error(run(db, "campaign", "load", str(bad)))
