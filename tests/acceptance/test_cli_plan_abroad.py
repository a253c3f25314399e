"""A letter's countdown is true for the person reading it: ``days_until``, ``weeks_until`` and
``today`` are computed for the recipient's local date at the scheduled send time (the
campaign's timezone when the contact has none), and the send-time stale check uses the same
rule, so a letter sent when planned is not sent back to review."""

from __future__ import annotations

import json

from outreach.smtpsink.server import SmtpSink
from tests.campaign_kit import SENDER, load_kit, smtp_env, write_kit
from tests.cli import run_cli

CAMPAIGN = (
    """slug = "abroad"
name = "Countdown abroad"
timezone = "America/New_York"
lookahead_days = 3
"""
    + SENDER
    + """
[sending]
days = ["mon", "tue", "wed", "thu", "fri"]
start = "08:30"
end = "17:00"

[[milestones]]
key = "meeting"
title = "the meeting"
date = 2010-06-14

[[steps]]
key = "letter"
template = "a/letter"
when = { milestone = "meeting", days_before = 43, at = "20:30" }
"""
)
TEMPLATE = """{% block subject %}{{ milestones.meeting.days_until }} days{% endblock %}
{% block text %}
{{ milestones.meeting.days_until }} days, {{ milestones.meeting.weeks_until }} weeks, today {{ today }}.
{% endblock %}
"""
CONTACTS = (
    "email,name,timezone\n"
    "hanoi@example.org,Hanoi reader,Asia/Ho_Chi_Minh\n"
    "newyork@example.org,New York reader,\n"
)


def _planned(db, tmp_path) -> dict[str, dict]:
    kit = write_kit(
        tmp_path,
        campaigns={"abroad.toml": CAMPAIGN},
        templates={"a/letter.j2": TEMPLATE},
        contacts=CONTACTS,
    )
    load_kit(db.url, kit)
    plan = run_cli("plan", "--now", "2010-04-30T12:00Z", db_url=db.url, env=kit.env)
    assert plan.returncode == 0, plan.stderr
    items = json.loads(run_cli("review", "list", "--json", db_url=db.url, env=kit.env).stdout)
    return {item["to_email"]: item for item in items} | {"env": kit.env}


def test_hanoi_reads_the_countdown_of_its_own_monday(db, tmp_path) -> None:
    planned = _planned(db, tmp_path)
    hanoi = planned["hanoi@example.org"]
    # Monday 08:30 in Hanoi is Sunday 21:30 in New York: 42 days to go for the reader
    assert hanoi["scheduled_for_recipient"].startswith("2010-05-03T08:30")
    assert hanoi["scheduled_for_campaign"].startswith("2010-05-02T21:30")
    shown = run_cli("review", "show", str(hanoi["id"]), db_url=db.url)
    assert "42 days, 6 weeks, today 2010-05-03." in shown.stdout, shown.stdout
    assert "rendered for: 2010-05-03" in shown.stdout


def test_a_contact_without_timezone_reads_the_campaigns_date(db, tmp_path) -> None:
    planned = _planned(db, tmp_path)
    newyork = planned["newyork@example.org"]
    assert newyork["scheduled_for_campaign"].startswith("2010-05-03T08:30")
    shown = run_cli("review", "show", str(newyork["id"]), db_url=db.url)
    assert "42 days, 6 weeks, today 2010-05-03." in shown.stdout, shown.stdout


def test_sent_when_planned_it_is_not_stale(db, tmp_path) -> None:
    planned = _planned(db, tmp_path)
    env = planned["env"]
    hanoi = planned["hanoi@example.org"]
    assert run_cli("review", "approve", str(hanoi["id"]), db_url=db.url).returncode == 0
    with SmtpSink() as smtp:
        env = {**env, **smtp_env(smtp.host, smtp.port)}
        sent = run_cli("send", "--now", "2010-05-03T01:30Z", db_url=db.url, env=env)
        assert sent.returncode == 0, sent.stderr
        assert sent.stdout.startswith("1 sent"), sent.stdout
        assert b"42 days" in smtp.received[0].content
