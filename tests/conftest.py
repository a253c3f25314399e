"""Shared fixtures: databases (SQLite file and PostgreSQL schema per test), clocks, settings.

PostgreSQL cases run when ``OUTREACH_TEST_POSTGRES_URL`` is set (CI sets it and fails on any
skipped PostgreSQL test); without it they skip with that reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from outreach.clock import FixedClock
from outreach.db import create_engine, migrate

PG_URL = os.environ.get("OUTREACH_TEST_POSTGRES_URL")
PG_SKIP_REASON = "PostgreSQL not configured: set OUTREACH_TEST_POSTGRES_URL to run these cases"
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Database:
    """A migrated, empty database for one test: its URL (usable from subprocesses too)."""

    kind: str
    url: str
    engine: Engine


def pg_schema_url(base: str, schema: str) -> str:
    """``base`` with a search_path option, so every connection uses ``schema``."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema}"


def _make_pg(schema: str) -> tuple[str, Engine]:
    assert PG_URL is not None
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    url = pg_schema_url(PG_URL, schema)
    return url, create_engine(url)


def _drop_pg(schema: str) -> None:
    assert PG_URL is not None
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    admin.dispose()


def make_database(kind: str, tmp_path: Path, *, migrated: bool = True) -> Iterator[Database]:
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'outreach.db'}"
        engine = create_engine(url)
        if migrated:
            migrate(engine)
        yield Database(kind, url, engine)
        engine.dispose()
        return
    if PG_URL is None:
        pytest.skip(PG_SKIP_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    url, engine = _make_pg(schema)
    try:
        if migrated:
            migrate(engine)
        yield Database(kind, url, engine)
    finally:
        engine.dispose()
        _drop_pg(schema)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated database, once on SQLite and once on PostgreSQL."""
    yield from make_database(request.param, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """An empty (unmigrated) database, once on SQLite and once on PostgreSQL."""
    yield from make_database(request.param, tmp_path, migrated=False)


@pytest.fixture
def pg_db(tmp_path: Path) -> Iterator[Database]:
    """A migrated PostgreSQL database only (for SKIP LOCKED, advisory locks, races)."""
    if PG_URL is None:
        pytest.skip(PG_SKIP_REASON)
    yield from make_database("postgres", tmp_path)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    yield from make_database("sqlite", tmp_path)


@pytest.fixture
def clock() -> FixedClock:
    """A clock pinned at 2010-04-20 12:00 UTC; tests move it with ``advance``."""
    return FixedClock(datetime(2010, 4, 20, 12, 0, tzinfo=UTC))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_db" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.postgres)
