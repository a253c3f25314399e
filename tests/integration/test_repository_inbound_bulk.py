"""The inbound rows' bulk SQL (outreach.repository.inbound) on both databases: PostgreSQL's
insert of one array per column (``insert_unnest``) returns only the rows it inserted and
stores every value as SQLite's path does, a driver error surfaces as SQLAlchemy's, rows with
different columns are refused, and ``IN`` lists (``= ANY`` and the ``EXISTS`` lookup on
PostgreSQL) of more than one chunk find every value."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from outreach.models import Inbound
from outreach.replies.match import MatchResult
from outreach.replies.prepare import prepare_reply
from outreach.replies.store import inbound_row
from outreach.repository.inbound import (
    IN_CHUNK,
    insert_inbound,
    stored_message_ids,
    stored_raw_hashes,
)
from tests.integration.intake_kit import NOW, reply

COLUMNS = [c.name for c in Inbound.__table__.columns if c.name != "id"]  # type: ignore[attr-defined]


def rows(count: int, start: int = 0) -> list[dict]:
    made = []
    for i in range(start, start + count):
        raw = reply(
            f"sender{i}@example.net",
            in_reply_to=f"<letter{i}@outreach.example.org>",
            references=f"<intro{i}@outreach.example.org> <letter{i}@outreach.example.org>",
            body=f"Réponse numéro {i}: nous serons présents.",
            message_id=f"<reply{i}@example.net>",
        )
        prepared = prepare_reply(
            f"test#{i}", raw, max_bytes=1 << 20, unsubscribe_addresses=frozenset()
        )
        made.append(inbound_row(prepared, MatchResult(), prepared.result, now=NOW))
    return made


def test_insert_returns_only_the_rows_it_inserted(db) -> None:
    batch = rows(30)
    with Session(db.engine) as other:  # another process stored two of them meanwhile
        ids = insert_inbound(other, rows=[batch[3], batch[17]])
        other.commit()
    assert set(ids) == {batch[3]["raw_sha256"], batch[17]["raw_sha256"]}
    with Session(db.engine) as s:
        inserted = insert_inbound(s, rows=batch)
        s.commit()
    assert set(inserted) == {r["raw_sha256"] for r in batch} - set(ids)
    assert len(set(inserted.values()) | set(ids.values())) == 30
    with Session(db.engine) as s:
        stored = {row.raw_sha256: row.id for row in s.exec(select(Inbound))}
    assert stored == {**inserted, **ids}


def test_every_value_is_stored_as_given(db) -> None:
    batch = rows(5)
    batch[1] = {**batch[1], "evidence": None, "snippet": None, "received_at": NOW - timedelta(1)}
    batch[2] = {
        **batch[2],
        "evidence": {"decided_by": "Status: 5.1.1", "line": "550 user unknown", "n": 2},
        "needs_review": True,
        "received_at": datetime(2010, 4, 27, 11, 3, 4, tzinfo=UTC),
    }
    with Session(db.engine) as s:
        ids = insert_inbound(s, rows=batch)
        s.commit()
    with Session(db.engine) as s:
        for row in batch:
            stored = s.get(Inbound, ids[row["raw_sha256"]])
            assert stored is not None
            assert {c: getattr(stored, c) for c in COLUMNS} == {c: row[c] for c in COLUMNS}


def test_a_driver_error_is_sqlalchemys(db) -> None:
    batch = rows(3)
    batch[1] = {**batch[1], "classification": None}  # NOT NULL
    with Session(db.engine) as s:
        with pytest.raises(sa.exc.IntegrityError):
            insert_inbound(s, rows=batch)
        s.rollback()
        assert insert_inbound(s, rows=[batch[0]])  # the session goes on after the rollback
        s.commit()


def test_rows_with_different_columns_are_refused(pg_db) -> None:
    batch = rows(2)
    batch[1] = {k: v for k, v in batch[1].items() if k != "snippet"}
    with Session(pg_db.engine) as s:
        with pytest.raises(ValueError, match="different columns"):
            insert_inbound(s, rows=batch)
        assert s.exec(select(Inbound)).all() == []


def test_lookups_over_more_than_one_chunk(db) -> None:
    batch = rows(IN_CHUNK + 50)
    with Session(db.engine) as s:
        insert_inbound(s, rows=batch)
        s.commit()
    shas = [r["raw_sha256"] for r in batch]
    mids = [r["message_id"] for r in batch]
    unknown = [f"{i:064x}" for i in range(IN_CHUNK)]
    with Session(db.engine) as s:
        assert stored_raw_hashes(s, raw_sha256s=shas[::-1] + unknown) == set(shas)
        assert stored_message_ids(s, message_ids=[*mids, "<none@example.net>"]) == set(mids)
