"""The queue: messages in any state; ``unknown`` ones to resolve (sent / send again),
``failed`` ones to requeue or cancel, unsent ones to cancel — for operators."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.dispatch.operator_actions import cancel_messages, requeue_failed, resolve_unknown
from outreach.dispatch.waits import queue_listing
from outreach.errors import OutreachError
from outreach.identity import Role
from outreach.states import MessageStatus
from outreach.web.auth import form_text, page
from outreach.web.context import web
from outreach.web.pages import render_outcome
from outreach.web.routes.review import message_id

#: How many messages one page lists.
PAGE_SIZE = 300


async def show_queue_page(request: Request, *, error: str | None = None) -> Response:
    """The queue page (``error`` from a refused action: status 409)."""
    context = web(request)
    status = request.query_params.get("status") or None
    if status not in {s.value for s in MessageStatus}:
        status = None
    now = context.now()
    unknown = await context.call(
        queue_listing, now=now, status=MessageStatus.UNKNOWN, limit=PAGE_SIZE
    )
    failed = await context.call(
        queue_listing, now=now, status=MessageStatus.FAILED, limit=PAGE_SIZE
    )
    listed = await context.call(queue_listing, now=now, status=status, limit=PAGE_SIZE)
    return render_outcome(
        request,
        "queue.html",
        error=error,
        error_status=409,
        unknown=unknown,
        failed=failed,
        listed=listed,
        status=status,
        statuses=[s.value for s in MessageStatus],
        page_size=PAGE_SIZE,
    )


@page()
async def queue(request: Request, user: SignedIn) -> Response:
    """GET /queue?status=S."""
    return await show_queue_page(request)


def operator_action(
    done: str, act: Callable[[Request, SignedIn], Awaitable[object]]
) -> Callable[[Request], Awaitable[Response]]:
    """An operator's POST on one message: run ``act``; back to the queue, or its error."""

    @page(Role.OPERATOR)
    async def endpoint(request: Request, user: SignedIn) -> Response:
        try:
            await act(request, user)
        except OutreachError as exc:
            return await show_queue_page(request, error=exc.message)
        return RedirectResponse(f"/queue?done={done}", status_code=303)

    return endpoint


async def _resolve(request: Request, user: SignedIn) -> object:
    context = web(request)
    return await context.call(
        resolve_unknown,
        message_id=message_id(request),
        sent=form_text(request, "verdict") == "sent",
        **context.acting(user),
    )


async def _requeue(request: Request, user: SignedIn) -> object:
    context = web(request)
    return await context.call(
        requeue_failed,
        message_id=message_id(request),
        **context.acting(user),
    )


async def _cancel(request: Request, user: SignedIn) -> object:
    context = web(request)
    reason = form_text(request, "reason").strip() or "cancelled by an operator"
    return await context.call(
        cancel_messages,
        ids=[message_id(request)],
        **context.acting(user),
        reason=reason,
    )


ROUTES = [
    Route("/queue", queue, methods=["GET"]),
    Route("/messages/{id:int}/resolve", operator_action("resolved", _resolve), methods=["POST"]),
    Route("/messages/{id:int}/requeue", operator_action("requeued", _requeue), methods=["POST"]),
    Route("/messages/{id:int}/cancel", operator_action("cancelled", _cancel), methods=["POST"]),
]
