"""The review actions in the console: approve (with a note), reject (reason required), edit
(with a diff before saving) and approve-all for a campaign after confirming the count. The same
services, rules and errors as ``outreach review …``, as the signed-in account."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import NotFoundError, OutreachError
from outreach.identity import Reviewer
from outreach.planner.letters import recomposer
from outreach.review import actions
from outreach.review.rules import edit_diff
from outreach.review.views import editable
from outreach.web.auth import form_text, page
from outreach.web.context import web
from outreach.web.pages import render
from outreach.web.routes.review import message_id, show_message, show_queue

Result = TypeVar("Result")


def _back(mid: int, done: str) -> Response:
    return RedirectResponse(f"/messages/{mid}?done={done}", status_code=303)


@page()
async def approve(request: Request, user: SignedIn) -> Response:
    """POST /messages/{id}/approve: approve as the signed-in account, with a note."""
    return await _review_action(
        request, user, actions.approve, _approved, note=form_text(request, "note")
    )


@page()
async def reject(request: Request, user: SignedIn) -> Response:
    """POST /messages/{id}/reject: reject (a reason is required)."""
    return await _review_action(
        request, user, actions.reject, lambda _: "rejected", reason=form_text(request, "reason")
    )


def _approved(results: Sequence[actions.ApproveResult]) -> str:
    (result,) = results
    return "approved" if result.approved else "partially_approved"


async def _review_action(
    request: Request,
    user: SignedIn,
    action: Callable[..., Any],
    done: Callable[[Any], str],
    **fields: str | None,
) -> Response:
    """Run a review action (approve, reject) on one message as the signed-in account: back
    to the message with ``done(results)``, or 404 for an unknown message, or the letter with
    the refusal (409) for any other user error."""
    mid = message_id(request)
    now = web(request).now()
    results = await _on_message(
        request, user, action, ids=[mid], reviewer=Reviewer.web(user.name), now=now, **fields
    )
    if isinstance(results, Response):
        return results
    return _back(mid, done(results))


async def _on_message(
    request: Request, user: SignedIn, work: Callable[..., Result], /, **kwargs: Any
) -> Result | Response:
    """``work(session, **kwargs)`` on the message of the path: its result, or the page to
    answer with — 404 for an unknown message, the letter with the refusal (409) for any other
    user error."""
    try:
        return await web(request).call(work, **kwargs)
    except NotFoundError:
        return render(request, "not_found.html", status_code=404)
    except OutreachError as exc:
        return await show_message(request, user, error=exc.message, status_code=409)


async def _edit_form(
    request: Request,
    mid: int,
    *,
    subject: str,
    text: str,
    html: str,
    diff: str | None = None,
    error: str | None = None,
) -> Response:
    return render(
        request,
        "edit.html",
        status_code=400 if error else 200,
        mid=mid,
        subject=subject,
        text=text,
        html=html,
        diff=diff,
        error=error,
    )


@page()
async def edit_page(request: Request, user: SignedIn) -> Response:
    """GET /messages/{id}/edit: the subject, text and HTML in a form."""
    mid = message_id(request)
    content = await _on_message(request, user, editable, message_id=mid)
    if isinstance(content, Response):
        return content
    return await _edit_form(
        request, mid, subject=content.subject, text=content.text, html=content.html or ""
    )


def _submitted(request: Request) -> tuple[str, str, str]:
    """(subject, text, html) as submitted, line ends as the stored letters have them."""

    def field(name: str) -> str:
        return form_text(request, name).replace("\r\n", "\n")

    return field("subject"), field("text"), field("html")


@page()
async def edit(request: Request, user: SignedIn) -> Response:
    """POST /messages/{id}/edit: ``preview`` shows the diff; ``save`` stores the edit (the
    letter goes back to review; approvals are cleared)."""
    context = web(request)
    mid = message_id(request)
    subject, text, html = _submitted(request)
    original = await _on_message(request, user, editable, message_id=mid)
    if isinstance(original, Response):
        return original
    new_html = html if html.strip() else None
    if form_text(request, "action") != "save":
        diff = edit_diff(
            (original.subject, original.text, original.html), (subject, text, new_html)
        )
        return await _edit_form(request, mid, subject=subject, text=text, html=html, diff=diff)
    try:
        result = await context.call(
            actions.edit,
            message_id=mid,
            subject=subject,
            text=text,
            html=new_html,
            reviewer=Reviewer.web(user.name),
            now=context.now(),
            recompose=recomposer(context.settings),
        )
    except OutreachError as exc:
        return await _edit_form(
            request, mid, subject=subject, text=text, html=html, error=exc.message
        )
    return _back(mid, "edited" if result.changed else "unchanged")


@page()
async def approve_all(request: Request, user: SignedIn) -> Response:
    """POST /review/approve-all: approve every letter of one campaign waiting for this
    account's review, once the count shown was confirmed (a different count refuses all)."""
    context = web(request)
    campaign = form_text(request, "campaign").strip()
    expected = form_text(request, "expected")
    if not campaign or not expected.isdigit() or form_text(request, "confirm") != "yes":
        return await show_queue(request, user, error="Choose a campaign and confirm the count.")
    try:
        done = await context.call(
            actions.approve_all,
            campaign=campaign,
            reviewer=Reviewer.web(user.name),
            note=form_text(request, "note"),
            now=context.now(),
            expected=int(expected),
        )
    except OutreachError as exc:
        return await show_queue(request, user, error=exc.message)
    return RedirectResponse("/review?done=approved_all" if done else "/review", status_code=303)


ROUTES = [
    Route("/messages/{id:int}/approve", approve, methods=["POST"]),
    Route("/messages/{id:int}/reject", reject, methods=["POST"]),
    Route("/messages/{id:int}/edit", edit_page, methods=["GET"]),
    Route("/messages/{id:int}/edit", edit, methods=["POST"]),
    Route("/review/approve-all", approve_all, methods=["POST"]),
]
