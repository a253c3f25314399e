"""`outreach status --check`, the health check of the compose file (and of a monitor beside
the systemd unit), on SQLite and PostgreSQL: exit 0 while every daemon job succeeds, exit 1
with one line per problem when a job has not succeeded for too long, the database cannot be
reached or its schema is not current."""

from __future__ import annotations

from pathlib import Path

from tests.cli import run_cli, run_cli_process
from tests.conftest import Database

RAN_AT = "2010-04-20T12:00Z"


def test_unhealthy_until_the_daemon_has_run(db: Database) -> None:
    result = run_cli("status", "--check", "--now", RAN_AT, db_url=db.url)
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.splitlines()
    assert "unhealthy: daemon job dispatch: no run has succeeded yet" in lines
    assert {line.split(":")[1].split()[-1] for line in lines} == {
        "dispatch",
        "plan",
        "retention",
        "sweep",
    }  # replies only when IMAP is configured


def test_healthy_after_a_run_then_overdue(db: Database) -> None:
    ran = run_cli("daemon", "--once", "--now", RAN_AT, db_url=db.url)
    assert ran.returncode == 0, ran.stderr
    ok = run_cli_process("status", "--check", "--now", "2010-04-20T12:09Z", db_url=db.url)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("ok: database reachable, schema current")

    later = run_cli("status", "--check", "--now", "2010-04-20T12:20Z", db_url=db.url)
    assert later.returncode == 1
    assert later.stderr.splitlines() == [
        "unhealthy: daemon job dispatch: last succeeded 20 min ago at 2010-04-20T12:00:00+00:00 "
        "(runs every 15 s; overdue after 10 min)",
        "unhealthy: daemon job plan: last succeeded 20 min ago at 2010-04-20T12:00:00+00:00 "
        "(runs every 300 s; overdue after 15 min)",
        "unhealthy: daemon job sweep: last succeeded 20 min ago at 2010-04-20T12:00:00+00:00 "
        "(runs every 75 s; overdue after 10 min)",
    ]
    # a longer interval is judged by its own schedule
    slow = run_cli(
        "status",
        "--check",
        "--now",
        "2010-04-20T12:20Z",
        db_url=db.url,
        env={"OUTREACH_DISPATCH_INTERVAL": "600", "OUTREACH_PLAN_INTERVAL": "600"},
    )
    assert [line.split(":")[1] for line in slow.stderr.splitlines()] == [" daemon job sweep"]


def test_an_unreachable_database_is_unhealthy(tmp_path: Path) -> None:
    down = run_cli("status", "--check", db_url="postgresql+psycopg://outreach@127.0.0.1:1/outreach")
    assert down.returncode == 1 and down.stdout == ""
    assert len(down.stderr.splitlines()) == 1 and "Traceback" not in down.stderr
    assert "127.0.0.1" in down.stderr


def test_a_database_without_its_schema_is_unhealthy(tmp_path: Path) -> None:
    empty = run_cli("status", "--check", db_url=f"sqlite:///{tmp_path / 'empty.db'}")
    assert empty.returncode == 1 and "outreach init" in empty.stderr
