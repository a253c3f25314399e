"""Thousands of generated and mutated messages through ``ingest`` (not only the parser), on SQLite
and PostgreSQL: no exception escapes, every message is stored exactly once (or counted as a
duplicate of one that is), and the effects leave the database consistent."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.models import Enrollment, Inbound, Message
from outreach.replies.intake import ingest
from outreach.replies.parse import parse_inbound
from outreach.replies.prepare import clean_text
from outreach.settings import load_settings
from outreach.states import EnrollmentStatus, MessageStatus
from tests.integration.intake_kit import NOW, World, build_world, dsn, reply
from tests.mutations import SEEDS, mutate

MAX_BYTES = 64 * 1024
COUNT = 2400

_HEADERS = [
    "Auto-Submitted: auto-replied",
    "X-Autoreply: yes",
    "Precedence: bulk",
    "Subject: =?utf-8?B?w6nDqcOp?= =?x-unknown?Q?=E9t=E9?=",
    "Subject: Unsubscribe",
    "Subject: Abwesenheitsnotiz",
    "Content-Type: text/plain; charset=utf-16",
    "Content-Transfer-Encoding: base64",
    "Date: Thu, 31 Dec 9999 23:59:59 -2359",
    "Date: yesterday",
    "From: =?utf-8?Q?Caf=C3=A9?= <\udcff@example.net>",
    "Message-ID: <\x00nul@example.net>",
    "References: " + " ".join(f"<ref{i}@example.org>" for i in range(500)),
]


def generated(rng: random.Random, w: World, n: int) -> bytes:
    """A message of random shape; often answering (or bouncing) a real letter."""
    target = rng.choice([w.a_appeal, w.b_appeal, "<unknown@example.org>", None])
    sender = rng.choice([w.a_email, w.b_email, "stranger@example.net", "MAILER-DAEMON@mx.example"])
    roll = rng.random()
    if roll < 0.2:
        status = rng.choice(["5.1.1", "4.2.2", "5.7.1", "5.0.0", "9.9.9", ""])
        raw = dsn(
            rng.choice([w.a_email, w.b_email, "ghost@example.net"]),
            status,
            original_id=target,
            action=rng.choice(["failed", "delayed", "delivered", ""]),
            message_id=f"<gen{n}@mx.example.org>",
        )
    else:
        extra = "\n".join(rng.sample(_HEADERS, rng.randint(0, 3)))
        body = rng.choice(
            [
                "Thank you.",
                "Please remove me.",
                "Je suis absent.",
                "x" * rng.randint(0, 3000),
                "\u2028\u2029 \x00 <script>",
            ]
        )
        raw = reply(
            sender,
            in_reply_to=target,
            body=body,
            message_id=f"<gen{n}@example.net>" if rng.random() < 0.9 else None,
            headers=extra.replace("\udcff", "x"),
        )
        if "\udcff" in extra:
            raw = raw.replace(b"Subject:", b"Subject: \xff\xfe", 1)
    if rng.random() < 0.5:
        raw = mutate(raw, rng)
    if rng.random() < 0.02:
        raw = raw + b"\r\n" + b"A" * (MAX_BYTES + 10)  # oversize
    return raw


def inputs(w: World, count: int, seed: int = 6) -> Iterator[tuple[str, bytes]]:
    rng = random.Random(seed)
    made: list[bytes] = []
    for n in range(count):
        roll = rng.random()
        if roll < 0.45:
            raw = mutate(rng.choice(SEEDS), rng)
        elif roll < 0.9:
            raw = generated(rng, w, n)
        elif roll < 0.95 and made:
            raw = rng.choice(made)  # the same bytes again
        else:
            raw = rng.randbytes(rng.randint(0, 400))
        made.append(raw)
        yield f"fuzz#{n}", raw


def test_thousands_of_hostile_messages_through_ingest(db) -> None:
    w = build_world(db.engine)
    settings = load_settings(env={}, database_url=db.url, inbound_max_bytes=MAX_BYTES)
    items = list(inputs(w, COUNT))
    started = time.perf_counter()
    report = ingest(db.engine, items, settings=settings, now=NOW, batch=300)
    elapsed = time.perf_counter() - started

    # what should be stored: the first of each raw byte string / Message-ID
    expected = 0
    seen_sha: set[str] = set()
    seen_mid: set[str] = set()
    for _, raw in items:
        p = parse_inbound(raw, max_bytes=MAX_BYTES)
        mid = clean_text(p.message_id, 998)
        if p.raw_sha256 in seen_sha or (mid is not None and mid in seen_mid):
            continue
        seen_sha.add(p.raw_sha256)
        if mid is not None:
            seen_mid.add(mid)
        expected += 1

    assert report.processed + report.duplicates == len(items)
    assert report.processed == expected
    assert sum(report.by_class.values()) == report.processed
    assert report.duplicates >= COUNT // 50  # repeats were fed on purpose
    with Session(db.engine) as s:
        rows = s.exec(select(Inbound.raw_sha256, Inbound.raw_size, Inbound.classification)).all()
        assert len(rows) == expected == len({r[0] for r in rows})
        assert {r[0] for r in rows} == seen_sha
        assert {"oversize", "human", "bounce_hard"} <= {r[2] for r in rows}
        # every message took the full path: none needed the store-raw-only fallback
        fallback = s.exec(
            select(sa.func.count())
            .select_from(Inbound)
            .where(Inbound.reason == "stored raw after an intake failure")
        ).one()
        assert fallback == 0
        # raw bytes kept exactly
        sample = s.exec(select(Inbound).order_by(sa.func.random()).limit(50)).all()
        for row in sample:
            assert len(row.raw) == row.raw_size
        # the effects left a consistent world: no follow-up both cancelled and enrollment active
        statuses = dict(s.exec(select(Message.id, Message.status)).all())
        for cid, follow in ((w.a_contact, w.a_follow), (w.b_contact, w.b_follow)):
            enr = s.exec(
                select(Enrollment.status).where(
                    Enrollment.contact_id == cid, Enrollment.campaign_id == w.campaign_id
                )
            ).one()
            if enr != EnrollmentStatus.ACTIVE.value:
                assert statuses[follow] == MessageStatus.CANCELLED.value
    # and the same input again changes nothing
    again = ingest(db.engine, items[:500], settings=settings, now=NOW, batch=300)
    assert (again.processed, again.duplicates) == (0, 500)
    assert elapsed < 30, f"{elapsed:.1f}s for {COUNT} messages"
