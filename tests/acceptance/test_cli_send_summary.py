"""``outreach send``'s summary says why mail did not go: non-sent outcomes grouped with their
reason, and exit 1 when the relay could not be reached at all (a wrong port must not look like
success)."""

from __future__ import annotations

import json

from outreach.smtpsink.server import SmtpSink, free_port
from tests.campaign_kit import SENDER, load_kit, smtp_env, write_kit
from tests.cli import run_cli

CAMPAIGN = (
    """slug = "relay"
name = "Relay"
timezone = "UTC"
require_approval = false
"""
    + SENDER
    + """
[sending]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00"
end = "24:00"

[[steps]]
key = "letter"
template = "r/letter"
when = { date = 2010-04-20T09:00 }
"""
)
LETTER = (
    "{% block subject %}Hello{% endblock %}{% block text %}Hello {{ contact.name }}{% endblock %}"
)
CONTACTS = "email,name\nann@example.org,Ann\nbob@example.org,Bob\n"
NOW = "2010-04-20T12:00Z"


def _approved(db, tmp_path) -> dict[str, str]:
    kit = write_kit(
        tmp_path,
        campaigns={"relay.toml": CAMPAIGN},
        templates={"r/letter.j2": LETTER},
        contacts=CONTACTS,
    )
    load_kit(db.url, kit)
    assert run_cli("plan", "--now", NOW, db_url=db.url, env=kit.env).returncode == 0
    return kit.env


def test_a_wrong_port_says_why_and_exits_1(db, tmp_path) -> None:
    env = _approved(db, tmp_path)
    port = free_port()
    one = {**env, **smtp_env("127.0.0.1", port), "OUTREACH_SMTP_CONCURRENCY": "1"}
    result = run_cli("send", "--now", NOW, db_url=db.url, env=one)
    assert result.returncode == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert result.stdout.startswith("0 sent"), result.stdout
    assert f"1 retrying: connection refused by 127.0.0.1:{port}" in result.stdout
    assert "skipped 1: SMTP server unavailable" in result.stdout
    assert result.stderr.startswith(f"error: the SMTP relay 127.0.0.1:{port} could not be reached")
    queue = json.loads(run_cli("queue", "list", "--json", db_url=db.url).stdout)
    assert sorted(q["status"] for q in queue) == ["approved", "retrying"]


def test_json_summary_groups_reasons_too(db, tmp_path) -> None:
    env = _approved(db, tmp_path)
    port = free_port()
    result = run_cli(
        "send", "--json", "--now", NOW, db_url=db.url, env={**env, **smtp_env("127.0.0.1", port)}
    )
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["sent"] == 0 and data["relay_unreachable"] is True
    assert list(data["reasons"]["retrying"]) == [f"connection refused by 127.0.0.1:{port}"]


def test_refused_recipients_are_grouped_by_reply_and_exit_0(db, tmp_path) -> None:
    env = _approved(db, tmp_path)
    with SmtpSink() as smtp:
        smtp.script_rcpt(
            lambda rcpt, n: "450 4.2.1 Mailbox busy" if rcpt.startswith("bob") else None
        )
        result = run_cli(
            "send", "--now", NOW, db_url=db.url, env={**env, **smtp_env(smtp.host, smtp.port)}
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1 sent, 1 retrying")
    assert "1 retrying: 450 4.2.1 Mailbox busy" in result.stdout
