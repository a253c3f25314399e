"""What every command shares: the application context, output helpers, common options."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from outreach.clock import Clock, clock_for, parse_now
from outreach.db import Engine, Session, check_current, create_engine, session_scope
from outreach.identity import Reviewer
from outreach.settings import Settings, load_settings

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


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
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):
        obj = AppContext()
        ctx.find_root().obj = obj
    return obj


NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Pretend it is this moment (ISO 8601, e.g. 2010-04-20T12:00Z); default: the real clock.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CampaignOption = Annotated[
    str | None, typer.Option("--campaign", "-c", help="Only this campaign (its slug).")
]


def clock_option(now: str | None) -> Clock:
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


def print_json(data: Any) -> None:
    """Stable JSON on stdout: sorted keys, ISO 8601 times, one document
    (:func:`outreach.json_reports.dumps`)."""
    from outreach.json_reports import dumps

    sys.stdout.write(dumps(data) + "\n")
    sys.stdout.flush()
