"""The console's Starlette application: every route, the security headers, the static CSS."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from outreach.accounts.policy import SessionPolicy, ThrottlePolicy
from outreach.clock import Clock, SystemClock
from outreach.db import Engine, create_engine
from outreach.settings import Settings
from outreach.web.context import WebContext
from outreach.web.pages import build_pages, render
from outreach.web.routes import (
    api,
    contacts,
    dashboard,
    health,
    letter_files,
    queue,
    replies,
    review,
    review_actions,
    signin,
    testsend,
    unsubscribe,
    users,
)
from outreach.web.security import SecurityHeaders


def routes() -> list[BaseRoute]:
    """Every route of the console."""
    modules = (
        signin,
        dashboard,
        review,
        review_actions,
        letter_files,
        testsend,
        replies,
        contacts,
        queue,
        users,
        api,
        unsubscribe,
        health,
    )
    found: list[BaseRoute] = [route for module in modules for route in module.ROUTES]
    found.append(
        Mount("/static", StaticFiles(packages=[("outreach.web", "static")]), name="static")
    )
    return found


async def _not_found(request: Request, exc: Exception) -> Response:
    return render(request, "not_found.html", status_code=404)


async def _not_allowed(request: Request, exc: Exception) -> Response:
    return render(request, "not_found.html", status_code=405)


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    sessions: SessionPolicy | None = None,
    throttle: ThrottlePolicy | None = None,
) -> Starlette:
    """The console over ``engine`` (one is made from the settings when not given). ``clock``,
    ``sessions`` and ``throttle`` default to the real clock and the standard policies."""
    context = WebContext(
        engine=engine or create_engine(settings.sqlalchemy_url),
        settings=settings,
        pages=build_pages(),
        clock=clock or SystemClock(),
        sessions=sessions or SessionPolicy(),
        throttle=throttle or ThrottlePolicy(),
    )
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityHeaders)],
        exception_handlers={404: _not_found, 405: _not_allowed},
    )
    app.state.web = context
    app.state.engine = context.engine
    app.state.settings = context.settings  # what /healthz judges the daemon's jobs by
    app.state.clock = context.clock
    return app
