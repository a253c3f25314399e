"""Real `outreach daemon` processes: several on PostgreSQL never duplicate, SIGTERM is clean,
the emergency brake stops mail within one batch, and `--once` runs each job."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach.smtpsink.server import SmtpSink
from tests.cli import REPO, run_cli

TEMPLATE = """{% block subject %}Day {{ today }} letter for {{ contact.name }}{% endblock %}
{% block text %}
Dear {{ contact.name }},

{{ milestones.deadline.days_until }} days to the deadline.
{% endblock %}
"""


def write_campaign(tmp: Path, n: int) -> tuple[Path, Path, Path]:
    """An auto-approved campaign whose one letter is due today (real clock), every day and
    hour a sending window, and ``n`` contacts."""
    today = datetime.now(UTC).date()
    templates = tmp / "templates"
    (templates / "d").mkdir(parents=True)
    (templates / "d" / "letter.j2").write_text(TEMPLATE)
    campaign = tmp / "daemon.toml"
    campaign.write_text(
        f"""slug = "daemon-test"
name = "Daemon test"
timezone = "UTC"
require_approval = false
lookahead_days = 1

[sender]
name = "Coalition"
email = "outreach@example.org"

[sending]
days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
start = "00:00"
end = "24:00"

[[milestones]]
key = "deadline"
title = "the deadline"
date = {today.replace(year=today.year + 1).isoformat()}

[[steps]]
key = "letter"
template = "d/letter"
when = {{ date = {today.isoformat()}T00:00:00 }}
"""
    )
    contacts = tmp / "contacts.csv"
    with contacts.open("w") as fh:
        fh.write("email,name,timezone\n")
        for i in range(n):
            fh.write(f"p{i:04d}@example.org,Person {i},UTC\n")
    return campaign, contacts, templates


def daemon_env(db_url: str, smtp: SmtpSink, templates: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(
        OUTREACH_DATABASE_URL=db_url,
        OUTREACH_TEMPLATES_DIR=str(templates),
        OUTREACH_SMTP_HOST="127.0.0.1",
        OUTREACH_SMTP_PORT=str(smtp.port),
        OUTREACH_SMTP_TLS="none",
        OUTREACH_PLAN_INTERVAL="1",
        OUTREACH_DISPATCH_INTERVAL="1",
        OUTREACH_DISPATCH_BATCH="40",
        OUTREACH_SMTP_CONCURRENCY="2",
        OUTREACH_LOG_FORMAT="json",
        OUTREACH_SHUTDOWN_GRACE="15",
    )
    env.update(extra)
    return env


def start_daemon(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "outreach", "daemon"],
            env=env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=fh,
        )


def wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> tuple[int, float]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise
    return code, time.monotonic() - started


def load(db_url: str, tmp: Path, n: int) -> tuple[Path, Path]:
    campaign, contacts, templates = write_campaign(tmp, n)
    env = {"OUTREACH_TEMPLATES_DIR": str(templates)}
    assert run_cli("campaign", "load", str(campaign), db_url=db_url, env=env).returncode == 0
    assert run_cli("contacts", "import", str(contacts), db_url=db_url, env=env).returncode == 0
    return campaign, templates


def statuses(engine: sa.Engine) -> Counter[str]:
    with engine.connect() as conn:
        return Counter(
            dict(
                conn.execute(sa.text("SELECT status, count(*) FROM message GROUP BY status")).all()
            )
        )


@pytest.mark.slow
def test_two_daemons_on_postgres_send_each_message_once(pg_db, tmp_path: Path) -> None:
    _, templates = load(pg_db.url, tmp_path, 500)
    with SmtpSink() as smtp:
        smtp.set_data_delay(0.004)
        env = daemon_env(pg_db.url, smtp, templates)
        procs = [start_daemon(env, tmp_path / f"d{i}.log") for i in range(2)]
        try:
            assert wait_until(lambda: len(smtp.received) >= 500, 120), len(smtp.received)
            time.sleep(1.0)
        finally:
            codes = [stop(p)[0] for p in procs]
        assert codes == [0, 0], [(tmp_path / f"d{i}.log").read_text()[-2000:] for i in range(2)]
        counts = smtp.count_by_message_id()
    assert len(counts) == 500 and set(counts.values()) == {1}
    assert statuses(pg_db.engine) == Counter({"sent": 500})
    with pg_db.engine.connect() as conn:
        senders = dict(
            conn.execute(
                sa.text("SELECT actor, count(*) FROM event WHERE action = 'sent' GROUP BY actor")
            ).all()
        )
        planners = conn.execute(
            sa.text("SELECT count(DISTINCT actor) FROM event WHERE action = 'planned'")
        ).scalar()
    assert len(senders) == 2 and all(n > 0 for n in senders.values()), senders
    assert planners == 1  # the advisory lock: one planner at a time
    health = json.loads(run_cli("status", "--json", db_url=pg_db.url).stdout)["daemon"]
    assert {h["job"] for h in health} >= {"plan", "dispatch", "sweep"}


@pytest.mark.slow
def test_sigterm_during_a_batch_exits_cleanly(db, tmp_path: Path) -> None:
    _, templates = load(db.url, tmp_path, 200)
    with SmtpSink() as smtp:
        smtp.set_data_delay(0.03)
        env = daemon_env(db.url, smtp, templates)
        proc = start_daemon(env, tmp_path / "d.log")
        assert wait_until(lambda: len(smtp.received) >= 20, 60)
        code, took = stop(proc)
        log = (tmp_path / "d.log").read_text()
        assert code == 0, log[-3000:]
        assert took < 30
        counts = smtp.count_by_message_id()
    assert set(counts.values()) == {1}
    st = statuses(db.engine)
    assert st["sending"] == 0, st
    assert st["sent"] == len(counts)
    assert st["sent"] < 200 and st["approved"] + st["sent"] == 200
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(line["msg"] == "daemon stopped" for line in lines)


@pytest.mark.slow
def test_pause_stops_two_daemons_within_one_batch_and_resume_finishes(
    pg_db, tmp_path: Path
) -> None:
    _, templates = load(pg_db.url, tmp_path, 400)
    with SmtpSink() as smtp:
        smtp.set_data_delay(0.01)
        env = daemon_env(pg_db.url, smtp, templates)
        procs = [start_daemon(env, tmp_path / f"d{i}.log") for i in range(2)]
        try:
            assert wait_until(lambda: len(smtp.received) >= 60, 90)
            assert run_cli("campaign", "pause", "daemon-test", db_url=pg_db.url).returncode == 0
            at_pause = len(smtp.received)
            time.sleep(4)
            after = len(smtp.received)
            # in flight when the brake was pulled: at most one batch per daemon
            assert after - at_pause <= 2 * 40, (at_pause, after)
            time.sleep(2)
            assert len(smtp.received) == after  # and then nothing
            assert after < 400
            assert run_cli("campaign", "resume", "daemon-test", db_url=pg_db.url).returncode == 0
            assert wait_until(lambda: len(smtp.received) >= 400, 120)
            time.sleep(1)
        finally:
            codes = [stop(p)[0] for p in procs]
        assert codes == [0, 0]
        counts = smtp.count_by_message_id()
    assert len(counts) == 400 and set(counts.values()) == {1}
    with pg_db.engine.connect() as conn:
        actions = {
            r[0]
            for r in conn.execute(sa.text("SELECT action FROM event WHERE entity = 'campaign'"))
        }
    assert {"paused", "active"} <= actions


def test_daemon_once_plans_and_sends(sqlite_db, tmp_path: Path) -> None:
    _, templates = load(sqlite_db.url, tmp_path, 5)
    with SmtpSink() as smtp:
        env = daemon_env(sqlite_db.url, smtp, templates)
        result = subprocess.run(
            [sys.executable, "-m", "outreach", "daemon", "--once"],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert len(smtp.received) == 5
    assert statuses(sqlite_db.engine) == Counter({"sent": 5})
