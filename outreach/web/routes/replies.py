"""The replies inbox: matched and unmatched mail, classification and reason, what they wrote,
and the letter answered. (Correcting a classification is wired when its service lands.)"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import NotFoundError
from outreach.replies.listing import list_replies
from outreach.states import Classification
from outreach.web.auth import page
from outreach.web.context import web
from outreach.web.pages import render

#: How many replies the page lists (newest first).
PAGE_SIZE = 200


@page()
async def inbox(request: Request, user: SignedIn) -> Response:
    """GET /replies?campaign=&class=&unmatched=1."""
    context = web(request)
    params = request.query_params
    campaign = (params.get("campaign") or "").strip() or None
    kind = params.get("class") or None
    if kind not in {c.value for c in Classification}:
        kind = None
    unmatched = params.get("unmatched") == "1"
    error = None
    try:
        items = await context.call(
            list_replies,
            campaign=campaign,
            classification=kind,
            unmatched=unmatched,
            limit=PAGE_SIZE,
        )
    except NotFoundError as exc:
        items, error = [], exc.message
    return render(
        request,
        "replies.html",
        status_code=400 if error else 200,
        items=items,
        campaign=campaign,
        kind=kind,
        unmatched=unmatched,
        classes=[c.value for c in Classification],
        error=error,
    )


ROUTES = [Route("/replies", inbox, methods=["GET"])]
