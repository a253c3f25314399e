"""`outreach send` killed with SIGKILL again and again while it sends 300 letters: each kill
leaves at most SMTP_CONCURRENCY × UNRECORDED_PER_CONNECTION messages to become `unknown`, each of
them received by the server or in flight there (its RCPT seen); in the end nothing was received
twice and nothing was lost."""

from __future__ import annotations

import signal
import time
from collections import Counter
from datetime import timedelta

import pytest
import sqlalchemy as sa

from outreach.dispatch.driver import UNRECORDED_PER_CONNECTION
from outreach.models import Attempt, Message
from tests.acceptance.send_kit import env_for, send_process
from tests.factories import T0
from tests.integration.dispatch_kit import Recorder, SmtpSink, message_ids, setup, statuses

pytestmark = pytest.mark.slow

LETTERS = 300
CONCURRENCY = 4  # env_for's OUTREACH_SMTP_CONCURRENCY
BOUND = CONCURRENCY * UNRECORDED_PER_CONNECTION
#: a run is killed once the server has received this many more messages from it
PER_RUN = 25


def marked_in_flight(engine) -> set[int]:
    """The ``sending`` messages whose attempt under the current lease was recorded
    ``data_sent``: what the sweeper will make ``unknown``."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(Message.id)
            .join(
                Attempt,
                sa.and_(
                    Attempt.message_id == Message.id,
                    Attempt.lease_token == Message.lease_token,
                ),
            )
            .where(
                Message.status == "sending",
                Attempt.phase == "data_sent",
                Attempt.finished_at.is_(None),
            )
        )
        return {row[0] for row in rows}


def envelopes(engine) -> dict[int, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(Message.id, Message.envelope_to)).all())


def run_and_kill(env, now, handler: Recorder) -> bool:
    """One `outreach send` at ``now``, killed with SIGKILL once the server has received
    PER_RUN more messages from it. False when it finished before that."""
    start = len(handler.received)
    proc = send_process(env, "--now", now.isoformat())
    deadline = time.monotonic() + 60
    while len(handler.received) < start + PER_RUN:
        if proc.poll() is not None:
            _, err = proc.communicate()
            assert proc.returncode == 0, err
            return False
        assert time.monotonic() < deadline, "the dispatcher sent nothing"
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    return True


def test_a_kill_loop_leaves_few_unknowns_each_received_or_in_flight(db) -> None:
    handler = Recorder(data_delay=0.003)
    to_of: dict[int, str] = {}
    left_unknown: set[int] = set()
    kills = 0
    with SmtpSink(handler) as sink:
        setup(db.engine, LETTERS)
        to_of = envelopes(db.engine)
        env = env_for(db.url, sink.port, OUTREACH_DISPATCH_BATCH="60")
        now = T0
        while run_and_kill(env, now, handler):
            kills += 1
            time.sleep(0.3)  # let the server read what the dead client had written
            marked = marked_in_flight(db.engine)
            assert len(marked) <= BOUND, f"kill {kills}: {len(marked)} messages may be unknown"
            received = set(handler.ids())
            seen = set(handler.rcpt_seen)
            header = message_ids(db.engine)
            for mid in marked:
                assert header[mid] in received or to_of[mid] in seen, (
                    f"kill {kills}: message {mid} would be unknown but the server never saw it"
                )
            left_unknown |= marked
            now += timedelta(seconds=301)  # past the lease: the next run sweeps
            assert kills < 40, "the loop does not end"
    assert kills >= 3, "the runs were not killed mid-batch"

    final = statuses(db.engine)
    received = Counter(handler.ids())
    header = message_ids(db.engine)
    assert set(received.values()) == {1}, "a message was received twice"
    assert set(final.values()) <= {"sent", "unknown"}, Counter(final.values())
    assert {mid for mid, st in final.items() if st == "unknown"} == left_unknown
    for mid, st in final.items():
        if st == "sent":
            assert received[header[mid]] == 1, f"message {mid} recorded sent, never received"
    assert len(left_unknown) <= kills * BOUND
