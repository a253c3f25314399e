"""Engines, sessions and migrations.

SQLite: WAL, foreign keys on, a busy timeout, and every transaction opened with
``BEGIN IMMEDIATE`` so that a transaction holds the single write lock from its start (no
deferred read-then-upgrade deadlocks; this is the "single-writer transaction" that the claim
relies on). PostgreSQL: psycopg 3; a ``search_path`` can be given in the URL
(``?options=-csearch_path%3Dname``), which the tests use for one schema per test.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from importlib import resources
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from outreach.errors import DatabaseError

#: What a database that cannot be used raises (for callers that report it rather than fail:
#: the health endpoints).
UNAVAILABLE: tuple[type[Exception], ...] = (SQLAlchemyError, DatabaseError, OSError)


def create_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with outreach's connection settings applied."""
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        raise DatabaseError(f"database URL {url!r} is not a valid URL") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = sa.create_engine(
                parsed, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
            )
            _configure_sqlite(engine)
        else:
            engine = sa.create_engine(
                parsed, echo=echo, pool_pre_ping=True, pool_size=5, max_overflow=10
            )
    except (NoSuchModuleError, ArgumentError) as exc:
        raise DatabaseError(f"database URL: {exc}") from None
    return engine


#: The PostgreSQL URL schemes accepted: ``postgres://`` and ``postgresql://`` mean psycopg 3.
POSTGRES_SCHEMES = ("postgres", "postgresql", "postgresql+psycopg")


def database_url_problem(url: str) -> str | None:
    """What is wrong with ``url`` as outreach's database URL, in a few words; None when it is
    a SQLite or PostgreSQL (psycopg 3) URL (``postgres://`` and ``postgresql://`` included)."""
    try:
        parsed = sa.engine.make_url(url)
    except ArgumentError:
        return (
            "not a database URL (expected e.g. sqlite:///outreach.db or "
            "postgresql+psycopg://user@host/db)"
        )
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql", "postgres"):
        return f"unsupported database {backend!r} (sqlite or postgresql)"
    if backend != "sqlite" and parsed.drivername not in POSTGRES_SCHEMES:
        return "use the psycopg (v3) driver: postgresql+psycopg://…"
    return None


def redacted_url(url: str) -> str:
    """``url`` with its password masked, safe to print or log."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # let SQLAlchemy's "begin" event issue BEGIN itself (pysqlite's own is deferred)
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")  # deferred: a reader takes no write lock
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


#: Execution option of :func:`reading`: the transaction only reads.
READ_ONLY = "outreach_read_only"


def reading(engine: Engine) -> Engine:
    """``engine`` for transactions that only read. On SQLite they begin deferred instead of
    ``BEGIN IMMEDIATE``: they take no write lock, so a reader polled often (``/healthz``,
    ``/metrics``) never holds up — nor waits for — the daemon's writers (WAL readers see the
    last commit). The same engine on PostgreSQL."""
    return engine.execution_options(**{READ_ONLY: True})


def read_scope(engine: Engine) -> AbstractContextManager[Session]:
    """One transaction that only reads (see :func:`reading`): :func:`session_scope` on the
    reading engine."""
    return session_scope(reading(engine))


def is_postgres(engine_or_session: Engine | Session | sa.Connection) -> bool:
    bind = (
        engine_or_session.get_bind()
        if isinstance(engine_or_session, Session)
        else engine_or_session
    )
    return bind.dialect.name == "postgresql"


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commits on success, rolls back on any exception."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def within(engine_or_session: Engine | Session) -> Iterator[Session]:
    """A session for a service call: a new transaction (:func:`session_scope`) when given an
    engine; the caller's own session, left uncommitted, when given a session."""
    if isinstance(engine_or_session, Session):
        yield engine_or_session
        return
    with session_scope(engine_or_session) as session:
        yield session


class HeldSession:
    """One connection kept open across many transactions, for a thread that runs one after
    another (a dispatcher's database lane): no pool checkout and no ping per transaction.
    Used from one thread at a time.

    On PostgreSQL (12 and later) the connection plans every statement for its parameters
    (``plan_cache_mode = force_custom_plan``, reset before the connection goes back to the
    pool): psycopg still prepares the lane's statements, but a generic plan — made for no array
    in particular — of the batch statements over arrays of ids was measured to cost 3–4× the
    custom one per round.

    ``autocommit`` (PostgreSQL only): every statement is a transaction of its own, committed by
    the server before the statement's answer arrives (no ``BEGIN`` and ``COMMIT`` round trips);
    for a lane whose every write stands alone.
    """

    def __init__(self, engine: Engine, *, autocommit: bool = False) -> None:
        self.engine = engine
        self.autocommit = autocommit and is_postgres(engine)
        self._held: tuple[sa.Connection, Session] | None = None
        self._custom_plans = False

    def session(self) -> Session:
        """The session on the held connection (opened on first use, or after :meth:`drop`);
        the caller commits, and calls :meth:`drop` when a transaction fails."""
        if self._held is None:
            connection = self.engine.connect()
            if self.autocommit:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            version = connection.dialect.server_version_info or (0,)
            self._custom_plans = is_postgres(connection) and version >= (12,)
            if self._custom_plans:
                connection.exec_driver_sql("SET plan_cache_mode = force_custom_plan")
                connection.commit()
            self._held = (connection, Session(bind=connection, expire_on_commit=False))
        return self._held[1]

    def drop(self) -> None:
        """Roll back and let go of the held connection (the next :meth:`session` opens a new
        one)."""
        held, self._held = self._held, None
        if held is None:
            return
        connection, session = held
        try:
            session.rollback()
            session.close()
            if self._custom_plans:
                connection.exec_driver_sql("RESET plan_cache_mode")
                connection.commit()
        except BaseException:
            connection.invalidate()  # not back to the pool as it is
            raise
        finally:
            connection.close()


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("outreach") / "migrations"))
    return cfg


def head_revision() -> str:
    """The newest migration shipped with this version of outreach."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at (``None`` for an empty database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


#: The PostgreSQL advisory lock every migration holds: one migrating process at a time.
MIGRATION_LOCK = "outreach:migrate"


def migrate(engine: Engine) -> tuple[str | None, str]:
    """Bring the database to the newest migration; a no-op when it is current.

    Safe when several processes start at once on an empty database: on PostgreSQL the check and
    the upgrade run under a session advisory lock on one dedicated connection (the others wait
    for it, then find the schema current); on SQLite the upgrade's ``BEGIN IMMEDIATE`` is the
    lock, and Alembic reads the version inside it. Returns (revision before, revision after).
    Raises :class:`DatabaseError` with one line when the database cannot be reached.
    """
    try:
        with engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                key = zlib.crc32(MIGRATION_LOCK.encode()) - 2**31
                conn.execute(sa.select(sa.func.pg_advisory_lock(key)))
                conn.commit()
                try:
                    return _upgrade(conn)
                finally:
                    conn.rollback()
                    conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                    conn.commit()
            return _upgrade(conn)
    except OperationalError as exc:
        raise DatabaseError(describe_operational_error(engine, exc)) from None


def _upgrade(conn: sa.Connection) -> tuple[str | None, str]:
    """Upgrade the database on ``conn`` to head in one transaction; (before, after)."""
    head = head_revision()
    with conn.begin():
        before = MigrationContext.configure(conn).get_current_revision()
        if before != head:
            cfg = _alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
    return before, head


def describe_operational_error(engine: Engine, exc: Exception) -> str:
    """One line for a database that could not be reached, without the password."""
    where = engine.url.render_as_string(hide_password=True)
    detail = (
        str(getattr(exc, "orig", exc)).strip().splitlines()[0] if str(exc) else type(exc).__name__
    )
    return f"cannot use database {where}: {detail}"


def check_current(engine: Engine) -> None:
    """Raise :class:`DatabaseError` unless the schema is at the shipped head."""
    try:
        current = current_revision(engine)
    except OperationalError as exc:
        raise DatabaseError(describe_operational_error(engine, exc)) from None
    if current != head_revision():
        raise DatabaseError(
            "the database schema is "
            + ("empty" if current is None else f"at {current}")
            + "; run `outreach init` to create or upgrade it"
        )


def sqlite_path(url: str) -> Path | None:
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(parsed.database)
    return None
