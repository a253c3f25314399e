"""The application context every command runs in: settings, the database engine and
sessions (built once per invocation, lazily), the clock of ``--now``, the reviewer's name."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from outreach.cli.output import err_console
from outreach.clock import Clock, clock_for, parse_now
from outreach.db import Engine, Session, check_current, create_engine, session_scope
from outreach.settings import Settings, load_settings, unknown_variables


@dataclass
class AppContext:
    """Built once per invocation by the root callback; commands take what they need."""

    config: Path | None = None
    _settings: Settings | None = None
    _engine: Engine | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
            for line in unknown_variables():
                err_console.print(f"warning: {line}", markup=False)
        return self._settings

    def engine(self, *, check: bool = True) -> Engine:
        """The database engine; with ``check`` the schema must be current (else: run init)."""
        if self._engine is None:
            self._engine = create_engine(self.settings.sqlalchemy_url)
            if check:
                check_current(self._engine)
        return self._engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        with session_scope(self.engine()) as session:
            yield session

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def app_context(ctx: typer.Context) -> AppContext:
    """The invocation's :class:`AppContext` (made on first use when the root callback did not)."""
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):
        obj = AppContext()
        ctx.find_root().obj = obj
    return obj


def clock_option(now: str | None) -> Clock:
    """The clock ``--now`` asks for: fixed at that moment, else the system clock."""
    return clock_for(parse_now(now))


def default_reviewer(explicit: str | None, settings: Settings | None = None) -> str:
    """``--reviewer``, else ``$OUTREACH_REVIEWER``, else the login name."""
    if explicit:
        return explicit
    env = os.environ.get("OUTREACH_REVIEWER") or (settings.reviewer if settings else None)
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
