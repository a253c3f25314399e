"""One-click unsubscribe (RFC 8058), no sign-in: ``GET`` shows a confirmation page with a
button and never unsubscribes (mail scanners prefetch links); ``POST`` with
``List-Unsubscribe=One-Click`` suppresses exactly the contact of that letter. An unknown or
malformed token gets the same plain page either way."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outreach.operations.unsubscribe import token_is_known, unsubscribe
from outreach.web.context import web
from outreach.web.pages import render

#: The body a one-click POST carries (RFC 8058 §3.2).
ONE_CLICK = "One-Click"


async def confirm_page(request: Request) -> Response:
    """GET /unsubscribe/{token}: a page with a button; nothing changes."""
    context = web(request)
    token = request.path_params["token"]
    if not await context.call(token_is_known, token=token):
        return render(request, "unsubscribe_invalid.html", status_code=404)
    return render(request, "unsubscribe.html", token=token, one_click=ONE_CLICK)


async def one_click(request: Request) -> Response:
    """POST /unsubscribe/{token}: unsubscribe (idempotent)."""
    context = web(request)
    form = await request.form()
    if form.get("List-Unsubscribe") != ONE_CLICK:
        return render(request, "unsubscribe_invalid.html", status_code=400)
    done = await context.call(unsubscribe, token=request.path_params["token"], now=context.now())
    if done is None:
        return render(request, "unsubscribe_invalid.html", status_code=404)
    return render(request, "unsubscribed.html")


ROUTES = [
    Route("/unsubscribe/{token}", confirm_page, methods=["GET"]),
    Route("/unsubscribe/{token}", one_click, methods=["POST"]),
]
