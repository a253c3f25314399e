"""Test send from a letter's page: an operator sends the letter's exact stored bytes to an
address of their own (:func:`outreach.review.testsend.test_send`, as ``outreach review
test-send`` does), off the event loop; the same hourly limit; no status changes. The page
shows the SMTP server's answer."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import NotFoundError, OutreachError
from outreach.identity import Role
from outreach.review.testsend import TestSendResult, test_send
from outreach.web.auth import form_text, page
from outreach.web.context import web
from outreach.web.pages import render
from outreach.web.routes.review import message_id, show_message


def outcome_line(result: TestSendResult) -> str:
    """What the page says about one test send."""
    reply = f"{result.code} {result.reply}" if result.code else result.reply
    what = f"{result.size:,} bytes, sha256 {result.sha256[:12]}…"
    if result.delivered:
        return f"Test copy ({what}) sent to {result.to}: {reply}"
    return f"The server did not accept the test copy ({what}) to {result.to}: {reply}"


@page(Role.OPERATOR)
async def send_test_copy(request: Request, user: SignedIn) -> Response:
    """POST /messages/{id}/test-send: the stored bytes to the form's ``to`` address."""
    context = web(request)
    try:
        result = await context.call_engine(
            test_send,
            message_id=message_id(request),
            to=form_text(request, "to"),
            settings=context.settings,
            **context.acting(user),
        )
    except NotFoundError:
        return render(request, "not_found.html", status_code=404)
    except OutreachError as exc:
        return await show_message(request, user, error=exc.message, status_code=400)
    if not result.delivered:
        return await show_message(request, user, error=outcome_line(result), status_code=502)
    return await show_message(request, user, test_sent=outcome_line(result))


send_test_copy.__test__ = False  # type: ignore[attr-defined]  # not a pytest test

ROUTES = [Route("/messages/{id:int}/test-send", send_test_copy, methods=["POST"])]
