"""Benchmark databases: fresh migrated ones, and cheap clones of a prepared one (a "golden"
database set up once per run), so every timed run starts from the same state.

SQLite: a file, cloned by copying it after a WAL checkpoint. PostgreSQL: a database per clone,
made with ``CREATE DATABASE … TEMPLATE golden`` (a file-level copy), dropped at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from outreach.db import create_engine, migrate

DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    return (
        os.environ.get("OUTREACH_BENCH_POSTGRES_URL")
        or os.environ.get("OUTREACH_TEST_POSTGRES_URL")
        or DEFAULT_PG_URL
    )


def postgres_problem(base_url: str) -> str | None:
    """Why PostgreSQL cannot be used for the benchmarks (``None`` when it can)."""
    try:
        engine = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            ok = conn.execute(
                sa.text("SELECT rolcreatedb OR rolsuper FROM pg_roles WHERE rolname = current_user")
            ).scalar()
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {sa.engine.make_url(base_url).render_as_string()}: {exc}".split(
            "\n"
        )[0]
    if not ok:
        return "the PostgreSQL role may not CREATE DATABASE (needed to clone benchmark databases)"
    return None


@dataclass
class Databases:
    """Makes and drops the run's databases of one kind (``sqlite`` or ``postgres``)."""

    kind: str
    workdir: Path
    pg_base: str = field(default_factory=postgres_base_url)
    made: list[str] = field(default_factory=list)

    def _new_name(self) -> str:
        return f"outreach_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"

    def url_for(self, name: str) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / (name + '.db')}"
        return (
            sa.engine.make_url(self.pg_base)
            .set(database=name)
            .render_as_string(hide_password=False)
        )

    def _admin(self) -> sa.Engine:
        return sa.create_engine(self.pg_base, isolation_level="AUTOCOMMIT")

    def empty(self) -> str:
        """A new database without any table (dropped with the others at the end); its URL."""
        name = self._new_name()
        if self.kind == "postgres":
            admin = self._admin()
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
        self.made.append(name)
        return self.url_for(name)

    def fresh(self) -> str:
        """A new, migrated, empty database; its URL."""
        url = self.empty()
        engine = create_engine(url)
        migrate(engine)
        engine.dispose()
        return url

    def clone(self, url: str) -> str:
        """A copy of the database at ``url`` (nobody may be connected to it); its URL."""
        name = self._new_name()
        source = sa.engine.make_url(url).database
        assert source is not None
        if self.kind == "sqlite":
            with sqlite3.connect(source) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
            shutil.copyfile(source, self.workdir / (name + ".db"))
        else:
            admin = self._admin()
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{source}"'))
            admin.dispose()
        self.made.append(name)
        return self.url_for(name)

    def drop(self, url: str) -> None:
        name = sa.engine.make_url(url).database
        if self.kind == "sqlite":
            for suffix in ("", "-wal", "-shm"):
                Path(f"{name}{suffix}").unlink(missing_ok=True)
            return
        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    def drop_all(self) -> None:
        for name in self.made:
            with contextlib.suppress(Exception):  # cleanup is best effort
                self.drop(self.url_for(name))
        self.made.clear()
