"""The review queue, one letter with its bytes and history, and the letter's HTML part (for
the sandboxed frame). The review actions are in :mod:`outreach.web.routes.review_actions`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import NotFoundError, OutreachError
from outreach.review.timeline import message_timeline
from outreach.review.views import count_pending_by_campaign, letter_html, list_pending
from outreach.states import MessageStatus
from outreach.web.auth import page
from outreach.web.context import web
from outreach.web.pages import render, render_outcome
from outreach.web.security import LETTER_HEADERS


def _filters(request: Request) -> dict[str, str | None]:
    params = request.query_params
    return {
        key: (params.get(key) or "").strip() or None for key in ("campaign", "step", "language")
    }


async def show_queue(request: Request, user: SignedIn, *, error: str | None = None) -> Response:
    """The review queue page (``error`` from a refused approve-all: status 400)."""
    context = web(request)
    filters = _filters(request)
    try:
        items = await context.call(list_pending, **filters)
        mine = await context.call(
            count_pending_by_campaign, campaign=filters["campaign"], reviewer=user.name
        )
    except NotFoundError as exc:
        items, mine, error = [], {}, exc.message
    return render_outcome(
        request,
        "review.html",
        error=error,
        items=items,
        filters=filters,
        mine=mine,
    )


@page()
async def review_queue(request: Request, user: SignedIn) -> Response:
    """GET /review: letters waiting for review (filter by campaign, step, language)."""
    return await show_queue(request, user)


def message_id(request: Request) -> int:
    """The ``{id}`` of the path (the route only matches digits)."""
    return int(request.path_params["id"])


async def show_message(
    request: Request,
    user: SignedIn,
    *,
    error: str | None = None,
    status_code: int = 200,
    test_sent: str | None = None,
) -> Response:
    """One letter: headers and parts from its bytes, its attachments (with a preview of its
    PDF), countdown values, approvals, history, attempts and replies, with the actions its
    state allows (``test_sent``: what a test send just did)."""
    context = web(request)
    try:
        timeline = await context.call(message_timeline, message_id=message_id(request))
    except NotFoundError:
        return render(request, "not_found.html", status_code=404)
    detail = timeline.detail
    return render(
        request,
        "message.html",
        status_code=status_code if error is None else max(status_code, 400),
        detail=detail,
        timeline=timeline,
        pending=detail.status == MessageStatus.PENDING_REVIEW.value,
        editable=detail.status
        in (MessageStatus.PENDING_REVIEW.value, MessageStatus.APPROVED.value),
        mine=user.name in detail.approvals,
        has_pdf=any(a.content_type == "application/pdf" for a in detail.attachments),
        test_sent=test_sent,
        error=error,
        done=request.query_params.get("done"),
    )


@page()
async def message_page(request: Request, user: SignedIn) -> Response:
    """GET /messages/{id}."""
    return await show_message(request, user)


@page()
async def letter_frame(request: Request, user: SignedIn) -> Response:
    """GET /messages/{id}/letter: the HTML part exactly as it will leave, for the console's
    sandboxed frame only (its own Content-Security-Policy: no scripts, no remote loads)."""
    context = web(request)
    try:
        html = await context.call(letter_html, message_id=message_id(request))
    except OutreachError:
        html = None
    if html is None:
        return HTMLResponse("", status_code=404, headers=LETTER_HEADERS)
    return HTMLResponse(html, headers=LETTER_HEADERS)


ROUTES = [
    Route("/review", review_queue, methods=["GET"]),
    Route("/messages/{id:int}", message_page, methods=["GET"]),
    Route("/messages/{id:int}/letter", letter_frame, methods=["GET"]),
]
