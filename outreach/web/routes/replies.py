"""The replies inbox: matched and unmatched mail, classification with its evidence and
strength, the needs-review flag, what they wrote and the letter answered; an operator corrects
a classification here (:func:`outreach.replies.reclassify.reclassify`, as ``outreach replies
reclassify`` does)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import NotFoundError, OutreachError
from outreach.identity import Role
from outreach.replies.listing import list_replies
from outreach.replies.reclassify import SETTABLE, reclassify
from outreach.states import Classification
from outreach.web.auth import form_text, page
from outreach.web.context import web
from outreach.web.pages import render_outcome

#: How many replies the page lists (newest first).
PAGE_SIZE = 200
#: The classes whose evidence strength decides what they do (DESIGN.md rule 4).
BOUNCES = frozenset({"bounce_hard", "bounce_soft", "rejected"})


def _filters(request: Request) -> dict[str, object]:
    params = request.query_params
    kind = params.get("class") or None
    if kind not in {c.value for c in Classification}:
        kind = None
    return {
        "campaign": (params.get("campaign") or "").strip() or None,
        "classification": kind,
        "unmatched": params.get("unmatched") == "1",
        "needs_review": params.get("needs_review") == "1",
    }


async def show_inbox(
    request: Request, *, error: str | None = None, status_code: int = 400
) -> Response:
    """The inbox page (``error`` from a refused correction: ``status_code``)."""
    context = web(request)
    filters = _filters(request)
    try:
        items = await context.call(list_replies, **filters, limit=PAGE_SIZE)
    except NotFoundError as exc:
        items, error = [], exc.message
    return render_outcome(
        request,
        "replies.html",
        error=error,
        error_status=status_code,
        items=items,
        campaign=filters["campaign"],
        kind=filters["classification"],
        unmatched=filters["unmatched"],
        needs_review=filters["needs_review"],
        classes=[c.value for c in Classification],
        settable=[c.value for c in SETTABLE],
        bounces=BOUNCES,
        replanned=_count(request, "replanned"),
        kept=_count(request, "kept"),
    )


def _count(request: Request, name: str) -> int:
    """A count a correction's redirect carries (0 when absent or not a number)."""
    raw = request.query_params.get(name) or ""
    return int(raw) if raw.isdigit() else 0


@page()
async def inbox(request: Request, user: SignedIn) -> Response:
    """GET /replies?campaign=&class=&unmatched=1&needs_review=1."""
    return await show_inbox(request)


@page(Role.OPERATOR)
async def correct(request: Request, user: SignedIn) -> Response:
    """POST /replies/{id}/reclassify: set the class an operator judges right, with a reason
    (the old class's effects undone, the new one's applied, the letters it had cancelled
    planned again unless something else stops them, events naming the account)."""
    context = web(request)
    inbound_id = int(request.path_params["id"])
    try:
        done = await context.call(
            reclassify,
            inbound_id=inbound_id,
            new_class=form_text(request, "class"),
            reason=form_text(request, "reason"),
            **context.acting(user),
            settings=context.settings,
        )
    except NotFoundError as exc:
        return await show_inbox(request, error=exc.message, status_code=404)
    except OutreachError as exc:
        return await show_inbox(request, error=exc.message)
    outcome = "unchanged"
    if done.old_class != done.new_class:
        outcome = "reclassified"
    elif done.changed:
        outcome = "confirmed"
    kept = sum(1 for letter in done.letters if letter.status == "cancelled")
    letters = f"&replanned={len(done.letters) - kept}&kept={kept}" if done.letters else ""
    return RedirectResponse(f"/replies?done={outcome}{letters}#reply-{inbound_id}", status_code=303)


ROUTES = [
    Route("/replies", inbox, methods=["GET"]),
    Route("/replies/{id:int}/reclassify", correct, methods=["POST"]),
]
