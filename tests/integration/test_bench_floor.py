"""The dispatch floor (bench/floor.py) does the guarantees' writes it claims to, and sends each
queued letter exactly once — else its rate would be no bound of the dispatcher's work."""

from __future__ import annotations

import sqlite3
from collections import Counter

import sqlalchemy as sa

from bench import data, floor
from bench.context import Context, Sizes
from outreach.smtpsink import SmtpSink

N = 30


def test_floor_sends_each_letter_once_and_records_it(tmp_path) -> None:
    ctx = Context(
        workdir=tmp_path,
        runs=1,
        sizes=Sizes(dispatch=N),
        budget=1e9,
        only_db="sqlite",
        log=lambda line: None,
    )
    try:
        url = ctx.dbs("sqlite").clone(ctx.planned_db("sqlite", N))
        path = sa.engine.make_url(url).database
        with sqlite3.connect(path) as db:
            queued = {r[0] for r in db.execute("SELECT message_id FROM message")}
        with SmtpSink() as sink:
            conn, writer = floor.prepare(url, now=data.DISPATCH_NOW)
            result = floor.run(writer, port=sink.port, conc=4)
            conn.close()
            received = sink.received_message_ids()
        db = sqlite3.connect(path)
        statuses = db.execute("SELECT status, count(*) FROM message GROUP BY status").fetchall()
        attempts = db.execute(
            "SELECT count(DISTINCT message_id), count(*), min(outcome), max(outcome),"
            " count(finished_at) FROM attempt"
        ).fetchone()
        events = dict(db.execute("SELECT action, count(*) FROM event GROUP BY action").fetchall())
        bodies = db.execute("SELECT count(*) FROM message_body WHERE raw IS NOT NULL").fetchone()
        db.close()
    finally:
        ctx.close()
    assert result["sent"] == N and result["elapsed"] > 0
    assert Counter(received) == Counter(queued)  # each queued letter once, nothing else
    assert statuses == [("sent", N)]
    assert attempts == (N, N, "sent", "sent", N)  # one data_sent row each, finished as sent
    assert events.get("claimed") == N and events.get("sent") == N
    assert bodies == (N,)  # the bodies it read stay as they were
