"""``/api/review``, ``/api/queue``, ``/api/replies``, ``/api/status``: exactly the documents
``review list``, ``queue list``, ``replies list`` and ``status`` print with ``--json`` (built
by :mod:`outreach.json_reports`), for a session or an account's API token."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import NotFoundError, OutreachError
from outreach.json_reports import dumps, queue_list, replies_list, review_list, status_report
from outreach.web.auth import api
from outreach.web.context import web


class BadParameter(ValueError):
    """A query parameter has a value the CLI would refuse too."""


def _text(request: Request, name: str) -> str | None:
    return (request.query_params.get(name) or "").strip() or None


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name) in ("1", "true", "yes")


def _limit(request: Request) -> int | None:
    raw = _text(request, "limit")
    if raw is None:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise BadParameter("limit: a whole number, at least 1")
    return int(raw)


async def _answer(request: Request, build: Callable[..., Any], **kwargs: Any) -> Response:
    try:
        data = await web(request).call(build, **kwargs)
    except NotFoundError as exc:
        return JSONResponse({"error": exc.message}, status_code=404)
    except (OutreachError, ValueError) as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    return Response(dumps(data) + "\n", media_type="application/json")


def _guarded(build: Callable[[Request], dict[str, Any]], report: Callable[..., Any]):  # type: ignore[no-untyped-def]
    @api()
    async def endpoint(request: Request, user: SignedIn) -> Response:
        try:
            kwargs = build(request)
        except BadParameter as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return await _answer(request, report, **kwargs)

    return endpoint


def _review_args(request: Request) -> dict[str, Any]:
    return {k: _text(request, k) for k in ("campaign", "step", "language")}


def _queue_args(request: Request) -> dict[str, Any]:
    return {
        "status": _text(request, "status"),
        "campaign": _text(request, "campaign"),
        "limit": _limit(request),
        "now": web(request).now(),
    }


def _replies_args(request: Request) -> dict[str, Any]:
    return {
        "campaign": _text(request, "campaign"),
        "classification": _text(request, "class"),
        "unmatched": _flag(request, "unmatched"),
        "needs_review": _flag(request, "needs_review"),
        "limit": _limit(request),
    }


def _status_args(request: Request) -> dict[str, Any]:
    context = web(request)
    return {
        "campaign": _text(request, "campaign"),
        "now": context.now(),
        "imap_configured": context.settings.imap_notice is None,
    }


ROUTES = [
    Route("/api/review", _guarded(_review_args, review_list), methods=["GET"]),
    Route("/api/queue", _guarded(_queue_args, queue_list), methods=["GET"]),
    Route("/api/replies", _guarded(_replies_args, replies_list), methods=["GET"]),
    Route("/api/status", _guarded(_status_args, status_report), methods=["GET"]),
]
