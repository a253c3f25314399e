"""`outreach backup FILE` while `outreach send` is sending (two real processes, a real SMTP
server on loopback): the backup is one consistent instant — every letter in it is in a state
its own columns, attempts and events agree with — and a restored copy carries on by the usual
rules (claims of the dead dispatcher swept back or to `unknown`, nothing sent twice).
PostgreSQL is refused with a pointer to the pg_dump recipe of docs/operations.md, whose
commands are run here as written."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from outreach.db import check_current, create_engine, head_revision
from outreach.models import Attempt, Event, Message
from tests.cli import REPO, cli_env, run_cli, run_cli_process
from tests.conftest import PG_SKIP_REASON, PG_URL, Database
from tests.factories import T0
from tests.integration.dispatch_kit import Recorder, SmtpSink, setup, statuses

pytestmark = pytest.mark.slow
LEASE = 300
TOTAL = 400  # at 4 connections x 50 ms a letter: about 5 s of sending


def env_for(db_url: str, port: int, **extra: str) -> dict[str, str]:
    """The environment of a dispatcher sending to the sink on ``port``."""
    return {
        "OUTREACH_DATABASE_URL": db_url,
        "OUTREACH_SMTP_HOST": "127.0.0.1",
        "OUTREACH_SMTP_PORT": str(port),
        "OUTREACH_SMTP_TLS": "none",
        "OUTREACH_SMTP_CONCURRENCY": "4",
        "OUTREACH_LEASE_SECONDS": str(LEASE),
        **extra,
    }


def send_process(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`outreach send ARGS…` as a process of its own."""
    return subprocess.Popen(
        [sys.executable, "-m", "outreach", "send", *args],
        env=cli_env(None, env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def rows(engine: sa.Engine) -> tuple[list, dict[int, list], dict[int, str]]:  # type: ignore[type-arg]
    """Messages; each message's attempts; the state its newest event moved it to."""
    with engine.connect() as conn:
        messages = list(conn.execute(sa.select(Message.__table__)))  # type: ignore[attr-defined]
        attempts: dict[int, list] = {}  # type: ignore[type-arg]
        for a in conn.execute(sa.select(Attempt.__table__).order_by(Attempt.id)):  # type: ignore[attr-defined,arg-type]
            attempts.setdefault(a.message_id, []).append(a)
        last: dict[int, str] = {}
        query = (
            sa.select(Event.entity_id, Event.to_state)
            .where(Event.entity == "message", Event.to_state.is_not(None))  # type: ignore[union-attr]
            .order_by(Event.id)
        )
        for entity_id, to_state in conn.execute(query):
            last[entity_id] = to_state
    return messages, attempts, last


def assert_consistent(engine: sa.Engine) -> Counter[str]:
    """Every message's columns, attempts and events tell the same story; the counts."""
    messages, attempts, last = rows(engine)
    for m in messages:
        # the kit inserts letters approved, without an event
        assert last.get(m.id, "approved") == m.status, (m.id, m.status, last.get(m.id))
        tried = attempts.get(m.id, [])
        if m.status == "sending":
            # the claim counts the attempt; its row is written just before DATA (issue 13)
            assert len(tried) in (m.attempts - 1, m.attempts), m.id
        else:
            assert m.attempts == len(tried), m.id
        if m.status == "sent":
            assert m.sent_at is not None and m.smtp_code == 250
            assert tried and tried[-1].outcome == "sent" and tried[-1].smtp_code == 250
        elif m.status == "sending":
            assert m.lease_owner and m.lease_token and m.lease_expires_at is not None
            assert m.sent_at is None
            assert all(a.lease_token == m.lease_token for a in tried[-1:])
        else:
            assert m.status == "approved", m.status
            assert m.sent_at is None and m.lease_owner is None and not tried
    return Counter(m.status for m in messages)


def test_a_backup_taken_mid_send_restores_consistent(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    handler = Recorder(data_delay=0.05)
    backup = tmp_path / "backups" / "outreach-mid-send.db"
    backup.parent.mkdir()
    with SmtpSink(handler) as sink:
        setup(db.engine, TOTAL)
        env = env_for(db.url, sink.port, OUTREACH_DISPATCH_BATCH="50")
        proc = send_process(env, "--now", T0.isoformat())
        deadline = time.monotonic() + 60
        while len(handler.received) < 40:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the dispatcher sent nothing"
            time.sleep(0.005)
        taken = run_cli_process("backup", str(backup), db_url=db.url)
        sent_by_then = len(handler.received)
        _out, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
        sent_ids = set(handler.ids())
    assert taken.returncode == 0, taken.stderr
    assert f"to {backup}" in taken.stdout and "integrity ok" in taken.stdout
    assert [p.name for p in backup.parent.iterdir()] == [backup.name]  # no partial file left
    assert Counter(statuses(db.engine).values()) == {"sent": TOTAL}

    restored = tmp_path / "restored.db"
    shutil.copyfile(backup, restored)
    engine = create_engine(f"sqlite:///{restored}")
    check_current(engine)  # the schema is at head: outreach runs on it as it is
    counts = assert_consistent(engine)
    assert 0 < counts["sent"] < TOTAL, counts  # taken mid-send
    assert counts["sent"] <= sent_by_then  # the sink accepts before the database says sent
    with engine.connect() as conn:
        header = dict(conn.execute(sa.select(Message.id, Message.message_id)).all())
        backup_sent = {
            header[i] for i, s in conn.execute(sa.select(Message.id, Message.status)) if s == "sent"
        }
    assert backup_sent <= sent_ids

    # carry on from the restored copy once the dead dispatcher's leases have run out
    url = f"sqlite:///{restored}"
    with SmtpSink(Recorder()) as second:
        later = (T0 + timedelta(seconds=LEASE + 1)).isoformat()
        result = run_cli_process(
            "send", "--now", later, "--json", env=env_for(url, second.port), db_url=url
        )
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        resent = set(second.received_message_ids())
    assert summary["swept_released"] + summary["swept_unknown"] == counts["sending"]
    assert resent.isdisjoint(backup_sent), "a letter sent in the backup was sent again"
    with engine.connect() as conn:
        after = Counter(conn.execute(sa.select(Message.status)).scalars())
    engine.dispose()
    assert after["sending"] == 0 and after["approved"] == 0
    assert after["unknown"] == summary["swept_unknown"]
    assert after["sent"] == counts["sent"] + counts["approved"] + summary["swept_released"]


def test_backup_refuses_what_it_cannot_do_well(sqlite_db: Database, tmp_path: Path) -> None:
    target = tmp_path / "copy.db"
    first = run_cli("backup", str(target), db_url=sqlite_db.url)
    assert first.returncode == 0, first.stderr
    assert f"schema {head_revision()}, integrity ok" in first.stdout
    size = target.stat().st_size
    again = run_cli("backup", str(target), db_url=sqlite_db.url)
    assert again.returncode == 1 and "exists; --force replaces it" in again.stderr
    assert target.stat().st_size == size
    assert run_cli("backup", str(target), "--force", db_url=sqlite_db.url).returncode == 0

    nowhere = run_cli("backup", str(tmp_path / "no" / "copy.db"), db_url=sqlite_db.url)
    assert nowhere.returncode == 1 and "no such folder" in nowhere.stderr
    missing = run_cli("backup", str(target), "--force", db_url=f"sqlite:///{tmp_path / 'x.db'}")
    assert missing.returncode == 1 and "no such database" in missing.stderr
    pg = run_cli(
        "backup", str(tmp_path / "pg.db"), db_url="postgresql+psycopg://outreach:s3cret@db/outreach"
    )
    assert pg.returncode == 1 and pg.stderr.count("\n") == 1
    assert "pg_dump (docs/operations.md#backups)" in pg.stderr and "s3cret" not in pg.stderr


def documented_recipe(dump: Path, source: str, copy: str) -> list[list[str]]:
    """The pg_dump and pg_restore commands of docs/operations.md §PostgreSQL, with the dump
    file and the database names (``outreach`` there) replaced by this test's own."""
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("### PostgreSQL", 1)[1].split("\n### ", 1)[0]
    lines = [
        line.strip()
        for block in re.findall(r"```sh\n(.*?)```", section, re.S)
        for line in block.splitlines()
        if line.startswith(("pg_dump ", "pg_restore "))
    ]
    assert [line.split()[0] for line in lines] == ["pg_dump", "pg_restore"], lines
    swap = {
        "outreach": source,
        "--dbname=outreach": f"--dbname={copy}",
        "--file=outreach.dump": f"--file={dump}",
        "outreach.dump": str(dump),
    }
    return [[swap.get(word, word) for word in shlex.split(line)] for line in lines]


@pytest.mark.postgres
def test_the_documented_pg_dump_recipe_restores(tmp_path: Path) -> None:
    """docs/operations.md's pg_dump / pg_restore commands, run against databases of our own."""
    if PG_URL is None:
        pytest.skip(PG_SKIP_REASON)
    if not (shutil.which("pg_dump") and shutil.which("pg_restore")):
        pytest.skip("pg_dump / pg_restore are not installed")
    source, copy = (f"i16_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("src", "copy"))
    base = sa.engine.make_url(PG_URL)
    admin = create_engine(PG_URL)
    libpq = {
        **os.environ,
        "PGHOST": base.host or "127.0.0.1",
        "PGPORT": str(base.port or 5432),
        "PGUSER": base.username or "postgres",
    }
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in (source, copy):
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        url = base.set(database=source).render_as_string(hide_password=False)
        assert run_cli("init", db_url=url).returncode == 0
        engine = create_engine(url)
        setup(engine, 20)
        engine.dispose()
        for command in documented_recipe(tmp_path / "outreach.dump", source, copy):
            done = subprocess.run(command, env=libpq, capture_output=True, text=True)
            assert done.returncode == 0, (command, done.stderr)
        copy_url = base.set(database=copy).render_as_string(hide_password=False)
        status = run_cli("status", "--json", db_url=copy_url)
        assert status.returncode == 0, status.stderr
        restored = create_engine(copy_url)
        assert Counter(statuses(restored).values()) == {"approved": 20}
        restored.dispose()
    finally:
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in (source, copy):
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
