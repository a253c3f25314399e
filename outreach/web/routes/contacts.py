"""Contacts (search, enrollment per campaign) and the suppression list (operators add and lift
entries, with a reason)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import OutreachError
from outreach.identity import Role
from outreach.operations.contacts import search_contacts
from outreach.operations.suppressions import (
    add_suppression,
    lift_suppression,
    suppression_items,
)
from outreach.web.auth import form_text, page
from outreach.web.context import web
from outreach.web.pages import render_outcome

T = TypeVar("T")

#: How many contacts one search lists.
PAGE_SIZE = 200


async def show_contacts(request: Request, *, error: str | None = None) -> Response:
    """The contacts page (``error`` from a refused suppression change: status 400)."""
    context = web(request)
    text = (request.query_params.get("q") or "").strip()
    contacts = await context.call(search_contacts, text=text, limit=PAGE_SIZE)
    suppressions = await context.call(suppression_items)
    return render_outcome(
        request,
        "contacts.html",
        error=error,
        q=text,
        contacts=contacts,
        suppressions=suppressions,
        page_size=PAGE_SIZE,
    )


@page()
async def contacts(request: Request, user: SignedIn) -> Response:
    """GET /contacts?q=TEXT."""
    return await show_contacts(request)


async def _change(request: Request, user: SignedIn, operation: Callable[..., T]) -> T | Response:
    """``operation`` (add or lift) on the form's address and reason, by ``user``; the page
    again with the error if it refuses."""
    context = web(request)
    try:
        return await context.call(
            operation,
            email=form_text(request, "email"),
            reason=form_text(request, "reason"),
            **context.acting(user),
        )
    except OutreachError as exc:
        return await show_contacts(request, error=exc.message)


@page(Role.OPERATOR)
async def suppress(request: Request, user: SignedIn) -> Response:
    """POST /suppressions: add an address, with a reason (the contact's unsent letters are
    cancelled, as :func:`~outreach.operations.suppressions.add_suppression` does for the CLI)."""
    change = await _change(request, user, add_suppression)
    if isinstance(change, Response):
        return change
    return RedirectResponse(
        f"/contacts?done={'suppressed' if change.changed else 'already_suppressed'}",
        status_code=303,
    )


@page(Role.OPERATOR)
async def lift(request: Request, user: SignedIn) -> Response:
    """POST /suppressions/lift: lift an address's suppression, with a reason (its bounced or
    unsubscribed enrollments are put back, as ``outreach suppressions remove`` does)."""
    change = await _change(request, user, lift_suppression)
    if isinstance(change, Response):
        return change
    if not change.changed:
        return await show_contacts(request, error=f"{change.email} is not suppressed")
    return RedirectResponse("/contacts?done=lifted", status_code=303)


ROUTES = [
    Route("/contacts", contacts, methods=["GET"]),
    Route("/suppressions", suppress, methods=["POST"]),
    Route("/suppressions/lift", lift, methods=["POST"]),
]
