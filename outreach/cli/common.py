"""What every command shares: the application context, output helpers, common options."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from outreach.clock import Clock, clock_for, parse_now
from outreach.db import Engine, Session, check_current, create_engine, session_scope
from outreach.settings import Settings, load_settings, unknown_variables

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


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def print_json(data: Any) -> None:
    """Stable JSON on stdout: sorted keys, ISO 8601 times, one document."""
    sys.stdout.write(json.dumps(data, default=_json_default, sort_keys=True, indent=2) + "\n")
    sys.stdout.flush()
