"""``outreach demo --web``: the demo's database opened in the console, with an account to sign
in with, on a clock pinned at the moment the demo ended (so the countdowns read as they did)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from starlette.applications import Starlette

from outreach.accounts.users import add_user, set_password
from outreach.clock import FixedClock
from outreach.db import Engine, create_engine, session_scope
from outreach.settings import Settings, load_settings
from outreach.web.app import create_app

#: The account the demo console prints a sign-in for.
DEMO_ACCOUNT = "admin"


def demo_settings(database: Path, *, port: int | None = None) -> Settings:
    """Settings for serving the demo's database on loopback (no public URL: plain http)."""
    values: dict[str, object] = {"database_url": f"sqlite:///{database}"}
    if port is not None:
        values["web_port"] = port
    return load_settings(env={}, **values)


def demo_account(engine: Engine, *, now: datetime, name: str = DEMO_ACCOUNT) -> str:
    """Create the admin account ``name`` with a new random password; returns the password."""
    password = secrets.token_urlsafe(12)
    with session_scope(engine) as session:
        add_user(session, name=name, role="admin", now=now, actor="demo")
        set_password(session, name=name, password=password, now=now, actor="demo")
    return password


def demo_console(
    database: Path, *, ended_at: datetime, port: int | None, echo: Callable[[str], None]
) -> tuple[Starlette, Settings]:
    """The console over the demo's database, its sign-in printed with ``echo``."""
    settings = demo_settings(database, port=port)
    engine = create_engine(settings.sqlalchemy_url)
    password = demo_account(engine, now=ended_at)
    echo(
        f"\nconsole: {settings.console_url}/  sign in as {DEMO_ACCOUNT} / {password}  "
        "(Ctrl-C to stop)"
    )
    return create_app(settings, engine=engine, clock=FixedClock(ended_at)), settings
