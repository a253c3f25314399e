"""The dashboard, and an operator pausing or resuming a campaign from it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import OutreachError
from outreach.identity import Role
from outreach.operations.campaigns import pause_campaign
from outreach.operations.health import health_problems
from outreach.overview import overview
from outreach.web.auth import page
from outreach.web.context import web
from outreach.web.pages import render_outcome


async def show_dashboard(request: Request, *, error: str | None = None) -> Response:
    """The dashboard page (with ``error`` from a refused action: status 400)."""
    context = web(request)
    view = await context.call(overview, now=context.now())
    problems = await context.call(health_problems, settings=context.settings, now=context.now())
    return render_outcome(
        request,
        "dashboard.html",
        error=error,
        view=view,
        health_problems=problems,
        imap_notice=context.settings.imap_notice,
    )


@page()
async def dashboard(request: Request, user: SignedIn) -> Response:
    """GET /: campaigns, countdowns, funnels, what leaves next, what needs a person."""
    return await show_dashboard(request)


def campaign_brake(paused: bool) -> Callable[[Request], Awaitable[Response]]:
    """POST /campaigns/{slug}/pause (or /resume): the emergency brake, for operators."""

    @page(Role.OPERATOR)
    async def endpoint(request: Request, user: SignedIn) -> Response:
        context = web(request)
        try:
            await context.call_engine(
                pause_campaign,
                slug=request.path_params["slug"],
                paused=paused,
                **context.acting(user),
            )
        except OutreachError as exc:
            return await show_dashboard(request, error=exc.message)
        return RedirectResponse(f"/?done={'paused' if paused else 'resumed'}", status_code=303)

    return endpoint


ROUTES = [
    Route("/", dashboard, methods=["GET"]),
    Route("/campaigns/{slug}/pause", campaign_brake(True), methods=["POST"]),
    Route("/campaigns/{slug}/resume", campaign_brake(False), methods=["POST"]),
]
