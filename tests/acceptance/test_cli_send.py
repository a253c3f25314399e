"""Real `outreach send` processes against a real SMTP server on loopback: a dispatcher killed
with SIGKILL mid-batch loses nothing and sends nothing twice; three dispatchers on PostgreSQL
share 2,000 messages and each is received exactly once."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.models import Message
from tests.acceptance.send_kit import concurrent_sends, env_for, send_process
from tests.factories import T0
from tests.integration.dispatch_kit import Recorder, SmtpSink, message_ids, setup, statuses

pytestmark = pytest.mark.slow


def test_sigkill_mid_batch_loses_nothing_and_sends_nothing_twice(db) -> None:
    handler = Recorder(data_delay=0.005)
    with SmtpSink(handler) as sink:
        setup(db.engine, 500)
        env = env_for(db.url, sink.port, OUTREACH_DISPATCH_BATCH="500")
        proc = send_process(env, "--now", T0.isoformat())
        deadline = time.monotonic() + 60
        while len(handler.received) < 100:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the dispatcher sent nothing"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        received_at_kill = Counter(handler.ids())
        st = Counter(statuses(db.engine).values())
        assert st["sending"] > 0 and st["sent"] < 500  # killed mid-batch

        # a new dispatcher after the lease ran out: sweep, then send what never left
        later = (T0 + timedelta(seconds=301)).isoformat()
        result = send_process(env, "--now", later, "--json")
        out, err = result.communicate(timeout=120)
        assert result.returncode == 0, err
        summary = json.loads(out)
        assert summary["swept_released"] + summary["swept_unknown"] == st["sending"]

    header_of = message_ids(db.engine)
    final = statuses(db.engine)
    received = Counter(handler.ids())
    assert set(received.values()) == {1}, "a message was received twice"
    assert set(final.values()) <= {"sent", "unknown", "approved", "retrying"}
    for mid, status in final.items():
        got = received[header_of[mid]]
        if status == "sent":
            assert got == 1, f"message {mid} recorded sent but never received"
        elif status in ("approved", "retrying"):
            assert got == 0, f"message {mid} received but left to be sent again"
    by_header = {v: k for k, v in header_of.items()}
    for header in received:
        assert final[by_header[header]] in ("sent", "unknown")
    # everything received before the kill that is not recorded sent is unknown, never resent
    assert all(received[h] == 1 for h in received_at_kill)
    assert Counter(final.values())["unknown"] == summary["swept_unknown"]


def test_three_dispatchers_on_postgres_each_message_received_once(pg_db) -> None:
    with SmtpSink() as sink:
        setup(pg_db.engine, 2000)
        env = env_for(pg_db.url, sink.port, OUTREACH_DISPATCH_BATCH="100")
        summaries = concurrent_sends(env, T0.isoformat())
    received = Counter(sink.handler.ids())
    assert len(received) == 2000 and set(received.values()) == {1}
    assert sum(s["sent"] for s in summaries) == 2000
    assert set(statuses(pg_db.engine).values()) == {"sent"}
    with pg_db.engine.connect() as conn:
        owners = conn.execute(
            sa.select(sa.func.count(sa.distinct(Message.lease_owner)))
        ).scalar_one()
    assert owners >= 1


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in-process (the same ``main()``), with exactly ``env`` as its environment."""
    from tests.cli import run_cli as run_in_process

    return run_in_process(*args, env=env)


def test_send_cli_dry_run_then_send_then_queue_operations(sqlite_db) -> None:
    with SmtpSink() as sink:
        _, ids = setup(sqlite_db.engine, 3)
        env = env_for(sqlite_db.url, sink.port)
        now = T0.isoformat()
        dry = run_cli(env, "send", "--dry-run", "--json", "--now", now)
        assert dry.returncode == 0, dry.stderr
        assert [m["id"] for m in json.loads(dry.stdout)["would_send"]] == ids
        human = run_cli(env, "send", "--dry-run", "--now", now)
        assert "would send now (3)" in human.stdout and "nothing was sent" in human.stdout
        assert sink.handler.received == [] and set(statuses(sqlite_db.engine).values()) == {
            "approved"
        }
        bad = run_cli(env, "send", "--campaign", "nope", "--now", now)
        assert bad.returncode == 1 and bad.stderr.strip() == "error: no campaign 'nope'"
        sent = run_cli(env, "send", "--limit", "2", "--now", now)
        assert sent.returncode == 0, sent.stderr
        assert "2 sent" in sent.stdout and len(sink.handler.received) == 2

    final = statuses(sqlite_db.engine)
    done = [mid for mid in ids if final[mid] == "sent"]
    (left,) = [mid for mid in ids if final[mid] == "approved"]
    refused = run_cli(env, "queue", "cancel", str(left), str(done[0]))
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f"error: message {done[0]} is sent; nothing was cancelled")
    assert statuses(sqlite_db.engine)[left] == "approved"
    ok = run_cli(env, "queue", "cancel", str(left))
    assert ok.returncode == 0 and statuses(sqlite_db.engine)[left] == "cancelled"

    with sqlite_db.engine.begin() as conn:
        conn.execute(sa.update(Message).where(Message.id == done[1]).values(status="unknown"))
    usage = run_cli(env, "queue", "resolve", str(done[1]))
    assert usage.returncode == 2
    resolved = run_cli(env, "queue", "resolve", str(done[1]), "--retry")
    assert resolved.returncode == 0, resolved.stderr
    assert statuses(sqlite_db.engine)[done[1]] == "approved"
    again = run_cli(env, "queue", "resolve", str(done[1]), "--sent")
    assert again.returncode == 1 and "not unknown" in again.stderr
