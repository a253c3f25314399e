"""Retention on SQLite and PostgreSQL: received mail older than `OUTREACH_INBOUND_RETENTION`
is reduced to its classification and match (raw source, sender, subject and words gone),
newer mail is untouched, the funnel and de-duplication hold, a second run changes nothing, and
the daemon runs it as its `retention` job."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.clock import FixedClock
from outreach.daemon import JOBS, Daemon, job_intervals
from outreach.db import session_scope
from outreach.funnel import campaign_funnels
from outreach.models import Event, Inbound, JobRun
from outreach.privacy.retention import apply_retention
from outreach.replies.store import ingest
from tests.acceptance.replies_kit import sent_sample
from tests.conftest import Database
from tests.planning import sample_settings

OLD_DAY = datetime(2010, 4, 26, 8, 0, tzinfo=UTC)
NEW_DAY = datetime(2011, 3, 1, 8, 0, tzinfo=UTC)
NOW = datetime(2011, 5, 1, 12, 0, tzinfo=UTC)  # 370 days after OLD_DAY, 61 after NEW_DAY


def reply(frm: str, in_reply_to: str, n: int, day: datetime, words: str) -> bytes:
    return (
        f"From: Correspondent <{frm}>\r\nTo: outreach@example.org\r\n"
        f"Subject: Re: letter {n}\r\nDate: {day.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        f"Message-ID: <keep{n}@example.net>\r\nIn-Reply-To: {in_reply_to}\r\n\r\n{words}\r\n"
    ).encode()


def received(db: Database) -> dict[str, Inbound]:
    with Session(db.engine) as s:
        return {m.message_id or "": m for m in s.exec(select(Inbound))}


def setup(db: Database, **overrides: str):  # type: ignore[no-untyped-def]
    sent = sent_sample(db)
    (mid1, email1, _), (mid2, email2, _), _ = sent
    settings = sample_settings(db.url, **overrides)
    raws = [
        ("t:old", reply(email1, mid1, 1, OLD_DAY, "We will sign in Oslo.")),
        ("t:new", reply(email2, mid2, 2, NEW_DAY, "Our minister will attend.")),
    ]
    ingest(db.engine, raws, settings=settings, now=NEW_DAY + timedelta(days=1))
    return settings, raws


def funnel(db: Database) -> dict[str, int]:
    with session_scope(db.engine) as session:
        return campaign_funnels(session, now=NOW)[0].funnel


def test_old_mail_is_reduced_to_its_class_and_match(db: Database) -> None:
    settings, raws = setup(db, inbound_retention="P365D")
    before = received(db)
    counts = funnel(db)
    result = apply_retention(db.engine, settings=settings, now=NOW)
    assert result.startswith("reduced 1 received message(s) received before 2010-05-01")

    after = received(db)
    old, new = after["<keep1@example.net>"], after["<keep2@example.net>"]
    assert old.reduced_at == NOW
    assert (old.raw, old.from_addr, old.subject, old.snippet, old.reason) == (
        b"",
        None,
        None,
        None,
        None,
    )
    assert old.evidence is not None and old.evidence.get("line") is None
    kept = ("classification", "matched_message_id", "contact_id", "campaign_id", "received_at")
    for column in (*kept, "match_method", "raw_size", "raw_sha256"):
        assert getattr(old, column) == getattr(before["<keep1@example.net>"], column), column
    assert old.classification == "human" and old.matched_message_id is not None
    assert new.reduced_at is None and b"Our minister will attend." in new.raw
    assert new.snippet == "Our minister will attend."
    assert funnel(db) == counts

    with Session(db.engine) as s:
        [event] = s.exec(select(Event).where(Event.action == "retention")).all()
    assert (event.entity, event.data) == ("privacy", {"reduced": 1})
    assert "keep1" not in (event.reason or "") and "Oslo" not in str(event.data)

    # the same message fetched again is still recognised, not stored a second time
    report = ingest(db.engine, raws[:1], settings=settings, now=NOW)
    assert (report.processed, report.duplicates) == (0, 1)


def test_a_second_run_changes_nothing_and_off_means_kept(db: Database) -> None:
    settings, _ = setup(db, inbound_retention="P30D")
    assert apply_retention(db.engine, settings=settings, now=NOW).startswith("reduced 2 ")
    assert apply_retention(db.engine, settings=settings, now=NOW).startswith("reduced 0 ")
    with Session(db.engine) as s:
        assert len(s.exec(select(Event).where(Event.action == "retention")).all()) == 1

    off = sample_settings(db.url, inbound_retention="off")
    assert off.inbound_retention is None
    assert apply_retention(db.engine, settings=off, now=NOW).startswith("skipped")


def test_many_rows_are_reduced_in_batches(db: Database) -> None:
    settings, _ = setup(db, inbound_retention="P1D")
    more = [
        (f"t:{n}", reply(f"p{n}@example.net", f"<x{n}@example.org>", 100 + n, OLD_DAY, "hello"))
        for n in range(7)
    ]
    ingest(db.engine, more, settings=settings, now=NEW_DAY)
    assert apply_retention(db.engine, settings=settings, now=NOW, batch=3).startswith("reduced 9 ")
    with Session(db.engine) as s:
        left = s.exec(
            select(sa.func.count()).select_from(Inbound).where(Inbound.reduced_at.is_(None))
        )  # type: ignore[union-attr]
        assert left.one() == 0


def test_the_daemon_runs_retention_on_its_schedule(db: Database) -> None:
    settings, _ = setup(db, inbound_retention="P365D")
    assert "retention" in JOBS and job_intervals(settings)["retention"] == 3600
    daemon = Daemon(db.engine, settings, clock=FixedClock(NOW), instance="t")
    results = asyncio.run(daemon.run_once())
    assert results["retention"].outcome == "ok"
    assert results["retention"].detail.startswith("reduced 1 ")
    assert received(db)["<keep1@example.net>"].reduced_at == NOW
    with Session(db.engine) as s:
        run = s.exec(select(JobRun).where(JobRun.job == "retention")).one()
    assert (run.outcome, run.last_success_at) == ("ok", NOW)
