"""What every request of the console shares, and how it reaches the database.

Database work runs in a worker thread (:meth:`WebContext.call`), one transaction per call,
so the event loop never waits on SQLite's write lock or on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from jinja2 import Environment
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from outreach.accounts.policy import SessionPolicy, ThrottlePolicy
from outreach.accounts.signin import SignedIn
from outreach.clock import Clock, SystemClock
from outreach.db import Engine, session_scope
from outreach.identity import Reviewer
from outreach.settings import Settings

Result = TypeVar("Result")


@dataclass
class WebContext:
    """The console's shared state: built once by :func:`outreach.web.app.create_app`."""

    engine: Engine
    settings: Settings
    pages: Environment
    clock: Clock = field(default_factory=SystemClock)
    sessions: SessionPolicy = field(default_factory=SessionPolicy)
    throttle: ThrottlePolicy = field(default_factory=ThrottlePolicy)

    def now(self) -> datetime:
        """The moment, read once per request by the caller."""
        return self.clock.now()

    def acting(self, user: SignedIn) -> dict[str, Any]:
        """``now`` and ``actor`` of a change the signed-in ``user`` makes: the moment, and the
        account as the event log records it (``web:NAME``)."""
        return {"now": self.now(), "actor": Reviewer.web(user.name).recorded}

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` when the console is served over https."""
        return str(self.settings.public_url or "").startswith("https://")

    async def call(self, work: Callable[..., Result], /, **kwargs: Any) -> Result:
        """``work(session, **kwargs)`` in one transaction, in a worker thread."""

        def run() -> Result:
            with session_scope(self.engine) as session:
                return work(session, **kwargs)

        return await run_in_threadpool(run)

    async def call_engine(self, work: Callable[..., Result], /, **kwargs: Any) -> Result:
        """``work(engine, **kwargs)`` (a service that opens its own transactions), in a
        worker thread."""
        return await run_in_threadpool(work, self.engine, **kwargs)


def web(request: Request) -> WebContext:
    """The context of the application serving ``request``."""
    context = request.app.state.web
    assert isinstance(context, WebContext)
    return context
