"""A letter the dispatcher finds stale (it would leave on another day and read differently) is
rendered again at once: the reviewer sees the new text, the old approvals are gone, no "STALE"
mark is left on text that is current, and approvals never exceed one per reviewer for the
current bytes (no "approvals: 3/2")."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from outreach.clock import FixedClock
from outreach.dispatch.engine import Dispatcher
from outreach.dispatch.runner import planner_stale_check
from outreach.settings import load_settings
from outreach.smtpsink.server import SmtpSink, free_port
from tests.campaign_kit import SENDER, load_kit, smtp_env, write_kit
from tests.cli import run_cli

CAMPAIGN = (
    """slug = "stale"
name = "Stale letters"
timezone = "UTC"
approvals_required = 2
lookahead_days = 3
"""
    + SENDER
    + """
[sending]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00"
end = "24:00"

[[milestones]]
key = "m"
title = "the meeting"
date = 2010-06-01

[[steps]]
key = "letter"
template = "s/letter"
when = { milestone = "m", days_before = 40, at = "09:00" }
"""
)
TEMPLATE = """{% block subject %}The meeting{% endblock %}
{% block text %}
{{ milestones.m.days_until }} days to go.
{% endblock %}
"""


def _approved_letter(db, tmp_path) -> tuple[int, dict[str, str]]:
    """One letter planned for 2010-04-22 ("40 days to go") approved by alice and bob."""
    kit = write_kit(
        tmp_path, campaigns={"stale.toml": CAMPAIGN}, templates={"s/letter.j2": TEMPLATE}
    )
    env = kit.env
    load_kit(db.url, kit)
    assert run_cli("plan", "--now", "2010-04-20T12:00Z", db_url=db.url, env=env).returncode == 0
    (item,) = json.loads(run_cli("review", "list", "--json", db_url=db.url, env=env).stdout)
    mid = item["id"]
    for reviewer in ("alice", "bob"):
        done = run_cli(
            "review", "approve", str(mid), "--reviewer", reviewer, db_url=db.url, env=env
        )
        assert done.returncode == 0, done.stderr
    return mid, env


def _send(db, env: dict[str, str], smtp: SmtpSink, now: str):
    return run_cli(
        "send", "--now", now, db_url=db.url, env={**env, **smtp_env(smtp.host, smtp.port)}
    )


def test_a_stale_letter_is_rerendered_and_needs_fresh_approvals(db, tmp_path) -> None:
    mid, env = _approved_letter(db, tmp_path)
    with SmtpSink() as smtp:
        late = _send(db, env, smtp, "2010-04-23T10:00Z")  # a day late: 39 days to go
        assert late.returncode == 0, late.stderr
        assert "1 stale" in late.stdout
        assert smtp.received == []
        (item,) = json.loads(run_cli("review", "list", "--json", db_url=db.url, env=env).stdout)
        assert item["id"] == mid
        assert item["approvals"] == [] and item["stale"] is False, item
        shown = run_cli("review", "show", str(mid), db_url=db.url, env=env).stdout
        assert "39 days to go." in shown and "40 days to go." not in shown
        assert "STALE" not in shown
        assert "approvals: 0/2" in shown
        assert "rendered for: 2010-04-23" in shown
        assert "re-rendered for 2010-04-23" in shown  # the history says why it came back
        carol = run_cli("review", "approve", str(mid), "--reviewer", "carol", db_url=db.url)
        assert carol.returncode == 0, carol.stderr
        assert "approval 1 of 2" in carol.stdout
        again = run_cli("review", "approve", str(mid), "--reviewer", "carol", db_url=db.url)
        assert again.returncode == 1 and "already approved" in again.stderr
        dave = run_cli("review", "approve", str(mid), "--reviewer", "dave", db_url=db.url)
        assert dave.returncode == 0 and "approved (carol, dave)" in dave.stdout
        sent = _send(db, env, smtp, "2010-04-23T10:05Z")
        assert sent.stdout.startswith("1 sent"), sent.stdout
        assert b"39 days to go." in smtp.received[0].content


def test_a_letter_that_no_longer_renders_cannot_be_approved(db, tmp_path) -> None:
    mid, env = _approved_letter(db, tmp_path)
    template = tmp_path / "templates" / "s" / "letter.j2"
    template.write_text(TEMPLATE.replace("milestones.m.days_until", "milestones.m.days_untill"))
    with SmtpSink() as smtp:
        _send(db, env, smtp, "2010-04-23T10:00Z")
        assert smtp.received == []
    queue = json.loads(run_cli("queue", "list", "--json", db_url=db.url, env=env).stdout)
    assert [(q["id"], q["status"]) for q in queue] == [(mid, "render_error")]
    refused = run_cli("review", "approve", str(mid), "--reviewer", "carol", db_url=db.url)
    assert refused.returncode == 1 and "render_error" in refused.stderr


def test_a_stale_letter_not_yet_rerendered_is_refused_until_plan(db, tmp_path) -> None:
    """A dispatcher without the planner's re-render (the bench's) leaves a stale letter with
    its old text: approval is refused, with the reason, until planning renders it again."""
    mid, env = _approved_letter(db, tmp_path)
    settings = load_settings(
        env={},
        database_url=db.url,
        templates_dir=tmp_path / "templates",
        smtp_host="127.0.0.1",
        smtp_port=free_port(),
        smtp_tls="none",
    )
    clock = FixedClock(datetime(2010, 4, 23, 10, 0, tzinfo=UTC))
    bare = Dispatcher(db.engine, settings, clock=clock, stale_check=planner_stale_check(settings))
    assert bare.run_sync().stale == 1
    listed = run_cli("review", "list", db_url=db.url, env={**env, "COLUMNS": "250"})
    assert "STALE" in listed.stdout
    refused = run_cli("review", "approve", str(mid), "--reviewer", "carol", db_url=db.url)
    assert refused.returncode == 1
    assert f"message {mid} is stale" in refused.stderr and "outreach plan" in refused.stderr
    (item,) = json.loads(run_cli("review", "list", "--json", db_url=db.url, env=env).stdout)
    assert item["approvals"] == []
    replan = run_cli("plan", "--now", "2010-04-23T10:00Z", db_url=db.url, env=env)
    assert replan.returncode == 0, replan.stderr
    shown = run_cli("review", "show", str(mid), db_url=db.url, env=env).stdout
    assert "39 days to go." in shown and "STALE" not in shown
    assert (
        run_cli("review", "approve", str(mid), "--reviewer", "carol", db_url=db.url).returncode == 0
    )
