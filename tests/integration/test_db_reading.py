"""outreach.db.reading / read_scope: transactions that only read. On SQLite a reader polled
often (/healthz, /metrics) takes no write lock, so it never holds up the daemon's writers."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import sqlalchemy as sa

from outreach.db import current_revision, head_revision, read_scope, reading, session_scope
from outreach.repository.jobs import job_runs

INSERT_RUN = sa.text(
    "INSERT INTO job_run (job, instance, started_at, outcome) VALUES ('t', 'i', :at, 'ok')"
)


def test_a_reader_holds_up_no_writer(db) -> None:
    at = datetime(2010, 4, 20, 12, tzinfo=UTC).replace(tzinfo=None)
    with read_scope(db.engine) as reader:
        assert job_runs(reader) == []  # the read transaction is open
        started = time.monotonic()
        with session_scope(db.engine) as writer:  # before: waited out the 30 s busy timeout
            writer.execute(INSERT_RUN, {"at": at})
        assert time.monotonic() - started < 5
    with read_scope(db.engine) as later:
        assert [r.job for r in job_runs(later)] == ["t"]


def test_the_reading_engine_sees_the_schema(db) -> None:
    assert current_revision(reading(db.engine)) == head_revision()
    with read_scope(db.engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM job_run")).scalar_one() == 0
