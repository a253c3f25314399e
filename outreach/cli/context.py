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
from outreach.identity import Reviewer
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


def os_login() -> str:
    """The OS login running this command ("unknown" where there is none)."""
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def cli_reviewer(app_: AppContext, explicit: str | None = None) -> Reviewer:
    """Who this command acts as: the OS login, acting as the account named by ``--reviewer``
    (else ``$OUTREACH_REVIEWER``) when one is named — which must then be an active account
    (:class:`~outreach.errors.ReviewError` otherwise)."""
    from outreach.accounts.actors import cli_reviewer as resolve

    name = explicit or os.environ.get("OUTREACH_REVIEWER") or app_.settings.reviewer
    if not name:
        return Reviewer.cli(os_login())
    with app_.session() as session:
        return resolve(session, login=os_login(), name=name)


def acting(app_: AppContext, now: str | None) -> dict[str, Any]:
    """``now`` and ``actor`` of a change this command makes: the moment ``--now`` names (else
    the clock's) and who acts (:func:`cli_reviewer`, as the event log records it)."""
    return {"now": clock_option(now).now(), "actor": cli_reviewer(app_).recorded}
