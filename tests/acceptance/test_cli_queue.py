"""Skipped sends do not disappear: ``queue list`` and ``send --dry-run`` say when dispatch will
next try each waiting message and why it waits — the send window, the daily limit, a retry's
backoff, a paused campaign — as the dispatch policy decides it."""

from __future__ import annotations

import json

from outreach.smtpsink.server import SmtpSink
from tests.campaign_kit import SENDER, load_kit, smtp_env, write_kit
from tests.cli import run_cli

CAMPAIGN = (
    """slug = "waits"
name = "Waits"
timezone = "UTC"
require_approval = false
"""
    + SENDER
    + """
[sending]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "09:00"
end = "17:00"
daily_limit = 1

[[steps]]
key = "letter"
template = "w/letter"
when = { date = 2010-04-20T09:00 }
"""
)
LETTER = (
    "{% block subject %}Hello{% endblock %}{% block text %}Hello {{ contact.name }}{% endblock %}"
)
CONTACTS = "email,name\nann@example.org,Ann\nbob@example.org,Bob\n"


def _planned(db, tmp_path, smtp: SmtpSink) -> dict[str, str]:
    kit = write_kit(
        tmp_path,
        campaigns={"waits.toml": CAMPAIGN},
        templates={"w/letter.j2": LETTER},
        contacts=CONTACTS,
    )
    env = {
        **kit.env,
        **smtp_env(smtp.host, smtp.port),
        "OUTREACH_SMTP_CONCURRENCY": "1",
    }
    load_kit(db.url, kit, env)
    assert run_cli("plan", "--now", "2010-04-20T08:00Z", db_url=db.url, env=env).returncode == 0
    return env


def _queue(db, env, now: str) -> dict[str, dict]:
    result = run_cli("queue", "list", "--json", "--now", now, db_url=db.url, env=env)
    assert result.returncode == 0, result.stderr
    return {q["to_email"]: q for q in json.loads(result.stdout)}


def test_outside_the_window_says_when_it_will_go(db, tmp_path) -> None:
    with SmtpSink() as smtp:
        env = _planned(db, tmp_path, smtp)
        late = run_cli("send", "--now", "2010-04-20T18:00Z", db_url=db.url, env=env)
        assert "skipped 2: outside send window" in late.stdout
        dry = run_cli("send", "--dry-run", "--now", "2010-04-20T18:05Z", db_url=db.url, env=env)
        assert "nothing is due now" in dry.stdout
        assert (
            "waiting 2: outside the send window (Mon–Fri 09:00–17:00 UTC) — "
            "next try 2010-04-21 09:00 UTC" in dry.stdout
        ), dry.stdout
        ann = _queue(db, env, "2010-04-20T18:05Z")["ann@example.org"]
        assert ann["next_try_at"] == "2010-04-21T09:00:00+00:00"
        assert ann["waiting_reason"] == "outside the send window (Mon–Fri 09:00–17:00 UTC)"
        table = run_cli(
            "queue",
            "list",
            "--now",
            "2010-04-20T18:05Z",
            db_url=db.url,
            env={**env, "COLUMNS": "250"},
        )
        assert "2010-04-21 09:00: outside the send window" in table.stdout


def test_the_daily_limit_and_a_retry_backoff(db, tmp_path) -> None:
    with SmtpSink() as smtp:
        env = _planned(db, tmp_path, smtp)
        smtp.script_rcpt(
            lambda rcpt, n: "451 4.3.0 Try again later" if rcpt.startswith("ann") else None
        )
        first = run_cli("send", "--now", "2010-04-20T10:00Z", db_url=db.url, env=env)
        assert "1 retrying: 451 4.3.0 Try again later" in first.stdout, first.stdout
        queue = _queue(db, env, "2010-04-20T10:00Z")
        ann = queue["ann@example.org"]
        assert ann["status"] == "retrying"
        assert ann["waiting_reason"] == "retry backoff after: 451 4.3.0 Try again later"
        assert ann["next_try_at"] == ann["next_attempt_at"]
        assert queue["bob@example.org"]["waiting_reason"] == "daily limit reached (1 a day)"
        assert queue["bob@example.org"]["next_try_at"] == "2010-04-21T09:00:00+00:00"
        smtp.script_rcpt(None)
        second = run_cli("send", "--now", "2010-04-20T11:00Z", db_url=db.url, env=env)
        assert second.stdout.startswith("1 sent"), second.stdout
        queue = _queue(db, env, "2010-04-20T11:00Z")
        assert queue["bob@example.org"]["waiting_reason"] == "daily limit reached (1 a day)"
        dry = run_cli("send", "--dry-run", "--now", "2010-04-20T11:00Z", db_url=db.url, env=env)
        assert (
            "waiting 1: daily limit reached (1 a day) — next try 2010-04-21 09:00 UTC" in dry.stdout
        )


def test_a_paused_campaign_and_review_wait_for_a_person(db, tmp_path) -> None:
    with SmtpSink() as smtp:
        env = _planned(db, tmp_path, smtp)
        assert run_cli("campaign", "pause", "waits", db_url=db.url, env=env).returncode == 0
        queue = _queue(db, env, "2010-04-20T10:00Z")
        assert {q["waiting_reason"] for q in queue.values()} == {
            "campaign paused (outreach campaign resume)"
        }
        assert {q["next_try_at"] for q in queue.values()} == {None}
        dry = run_cli("send", "--dry-run", "--now", "2010-04-20T10:00Z", db_url=db.url, env=env)
        assert "waiting 2: campaign paused (outreach campaign resume) — no next try" in dry.stdout
