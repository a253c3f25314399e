"""Reply intake with its parsing in worker processes (outreach.replies.pool): the same prepared
messages in the same order as in one process, the same rows and effects in the database, and a
killed worker costs nothing but the speed."""

from __future__ import annotations

import logging
import mailbox
import multiprocessing
import os
import random
import signal
import threading
from pathlib import Path

from sqlmodel import Session, select

from outreach.models import Inbound
from outreach.replies.intake import import_paths
from outreach.replies.pool import MAX_BATCH_BYTES, default_workers, prepared_batches
from outreach.replies.prepare import prepare_reply
from tests.integration.intake_kit import (
    NOW,
    build_world,
    dsn,
    enrollment,
    reply,
    settings_for,
    status_of,
    suppressed,
)
from tests.mutations import mutate

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MAX_BYTES = 25 * 1024 * 1024


def corpus_items(copies: int = 1) -> list[tuple[str, bytes]]:
    """Every fixture message, and mutated copies of them (hostile input included)."""
    rng = random.Random(5)
    raws = [p.read_bytes() for p in sorted(FIXTURES.glob("*/**/*.eml"))]
    raws += [mutate(raw, rng) for raw in raws for _ in range(copies)]
    return [(f"item#{i}", raw) for i, raw in enumerate(raws)]


def batches(items: list[tuple[str, bytes]], workers: int, batch: int = 25) -> list[list]:
    return list(
        prepared_batches(
            items,
            batch=batch,
            max_bytes=MAX_BYTES,
            unsubscribe_addresses=frozenset({"unsubscribe@example.org"}),
            workers=workers,
        )
    )


def test_workers_prepare_the_same_batches_in_the_same_order() -> None:
    items = corpus_items()
    here = batches(items, workers=0)
    pooled = batches(items, workers=2)
    assert len(here) == len(pooled) == -(-len(items) // 25) > 10
    assert pooled == here
    assert [r.source for chunk in pooled for r in chunk] == [s for s, _ in items]


def test_one_batch_of_input_starts_no_process() -> None:
    before = set(multiprocessing.active_children())
    [only] = batches(corpus_items()[:10], workers=2)
    assert len(only) == 10
    assert set(multiprocessing.active_children()) == before


def test_a_batch_is_cut_by_bytes_too() -> None:
    big = b"From: a@example.org\r\nSubject: big\r\n\r\n" + b"x" * (MAX_BATCH_BYTES // 2)
    items = [(f"big#{i}", big + b"%d" % i) for i in range(5)]
    sizes = [len(chunk) for chunk in batches(items, workers=0, batch=500)]
    assert sizes == [2, 2, 1]


def test_a_killed_worker_leaves_the_rest_prepared_here(caplog) -> None:  # type: ignore[no-untyped-def]
    items = corpus_items()
    here = batches(items, workers=0, batch=10)
    stream = iter(
        prepared_batches(
            items,
            batch=10,
            max_bytes=MAX_BYTES,
            unsubscribe_addresses=frozenset({"unsubscribe@example.org"}),
            workers=2,
        )
    )
    got = [next(stream)]
    workers = multiprocessing.active_children()
    assert workers
    for process in workers:
        os.kill(process.pid, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="outreach.replies.pool"):
        got.extend(stream)
    assert "going on in this process" in caplog.text
    assert got == here


def test_default_workers_two_where_the_process_may_fork() -> None:
    cores = len(os.sched_getaffinity(0))
    alone = threading.active_count() == 1
    assert default_workers() == (2 if cores >= 2 and alone else 0)


def test_a_process_running_another_thread_prepares_in_process() -> None:
    items = corpus_items()[:100]
    here = batches(items, workers=0)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        before = set(multiprocessing.active_children())
        assert default_workers() == 0
        assert batches(items, workers=2) == here
        assert set(multiprocessing.active_children()) == before
    finally:
        stop.set()
        other.join()


def test_import_with_workers_stores_and_acts_as_one_process_would(db, tmp_path: Path) -> None:
    w = build_world(db.engine)
    raws = [raw for _, raw in corpus_items(copies=0)]
    raws += [
        reply(w.a_email, in_reply_to=w.a_appeal, body="We will attend."),
        dsn(w.b_email, "5.1.1", original_id=w.b_appeal),
    ]
    box = mailbox.mbox(tmp_path / "replies.mbox")
    for raw in raws:
        box.add(raw)
    box.close()
    settings = settings_for(db.url)

    report = import_paths(
        db.engine, [tmp_path / "replies.mbox"], settings=settings, now=NOW, batch=20, workers=2
    )

    # what each message is, prepared in this process, in mbox order
    stored_box = mailbox.mbox(tmp_path / "replies.mbox")
    expected = [
        prepare_reply(
            f"{tmp_path / 'replies.mbox'}#{n}",
            stored_box.get_bytes(key),
            max_bytes=settings.inbound_max_bytes,
            unsubscribe_addresses=frozenset(),
        )
        for n, key in enumerate(stored_box.iterkeys(), start=1)
    ]
    stored_box.close()
    with Session(db.engine) as s:
        rows = s.exec(select(Inbound).order_by(Inbound.id)).all()
    firsts = []
    seen: set[str | None] = set()
    for prepared in expected:  # the first of the same bytes or Message-ID is stored
        if prepared.parsed.raw_sha256 in seen or (prepared.message_id or "") in seen:
            continue
        seen.update({prepared.parsed.raw_sha256, prepared.message_id or ""} - {""})
        firsts.append(prepared)
    assert report.processed == len(rows) == len(firsts) > 200
    assert report.duplicates == len(expected) - len(firsts)
    for row, prepared in zip(rows, firsts, strict=True):
        assert (row.raw_sha256, row.source) == (prepared.parsed.raw_sha256, prepared.source)
        assert (row.snippet, row.from_addr) == (prepared.snippet, prepared.parsed.from_addr)
        if row.contact_id is None:  # nothing about the match changed the class
            assert row.classification == prepared.result.kind.value
    # the effects of the two replies to our letters
    assert enrollment(db, w.campaign_id, w.a_contact) == "replied"
    assert status_of(db, w.a_follow) == "cancelled"
    assert suppressed(db).get(w.b_email) == "bounce_hard"
    # and again: all duplicates
    again = import_paths(
        db.engine, [tmp_path / "replies.mbox"], settings=settings, now=NOW, batch=20, workers=2
    )
    assert (again.processed, again.duplicates) == (0, len(raws))
