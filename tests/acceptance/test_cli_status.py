"""``outreach status`` as an operator reads it at 80 columns: no Python reprs, a funnel that
fits, and a plain word when IMAP is not configured (the daemon says so at start too)."""

from __future__ import annotations

import re

from tests.cli import run_cli, run_cli_process

NOW = "2010-04-20T12:00Z"
REPR = re.compile(r"\b[A-Z][A-Za-z]+\([a-z_]+=")


def _seed(db) -> None:
    assert run_cli("campaign", "load", "config/campaigns", db_url=db.url).returncode == 0
    contacts = "config/contacts/ccm-2010-sample.csv"
    assert run_cli("contacts", "import", contacts, db_url=db.url).returncode == 0


def test_status_fits_80_columns_without_reprs(db) -> None:
    _seed(db)
    daemon = run_cli_process("daemon", "--once", "--now", NOW, db_url=db.url)
    assert daemon.returncode == 0, daemon.stderr
    result = run_cli_process("status", "--now", NOW, db_url=db.url, env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert REPR.search(out) is None, out
    too_wide = [line for line in out.splitlines() if len(line) > 80]
    assert too_wide == [], out
    assert re.search(r"pending review\s+\d+", out), out
    assert re.search(r"enrolled\s+38", out), out
    for job in ("plan", "dispatch", "sweep"):
        assert re.search(rf"^\s*{job}\b", out, re.MULTILINE), out


def test_status_and_daemon_say_when_imap_is_not_configured(db) -> None:
    _seed(db)
    daemon = run_cli_process("daemon", "--once", "--now", NOW, db_url=db.url)
    assert daemon.returncode == 0, daemon.stderr
    assert "IMAP is not configured" in daemon.stderr
    assert "stop-on-reply is off" in daemon.stderr
    result = run_cli("status", "--now", NOW, db_url=db.url)
    assert "IMAP is not configured" in result.stdout
    assert "stop-on-reply is off" in result.stdout
    configured = run_cli(
        "status",
        "--now",
        NOW,
        db_url=db.url,
        env={"OUTREACH_IMAP_HOST": "imap.example.org", "OUTREACH_IMAP_USERNAME": "outreach"},
    )
    assert "IMAP is not configured" not in configured.stdout
