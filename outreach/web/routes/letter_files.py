"""What a letter carries, in the console: each attachment as a download and the first page of
its PDF as a picture, both read from the stored bytes (what leaves) by
:mod:`outreach.review.files`, served from the console's own origin (the pages' CSP allows
``img-src 'self'``) and never stored by the browser."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.errors import AttachmentError, NotFoundError
from outreach.review.files import attachment_file, pdf_preview
from outreach.web.auth import page
from outreach.web.context import web

#: How wide the preview of a PDF's first page is, in pixels.
PREVIEW_WIDTH = 800
#: A download is never rendered by the browser, nor sniffed, nor kept.
_FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def content_disposition(name: str) -> str:
    """``attachment`` with ``name`` as an ASCII fallback (anything else as ``_``) and in full
    as RFC 6266/5987 ``filename*`` (UTF-8, percent-encoded): no header injection, any script."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def _not_found(what: str) -> Response:
    return PlainTextResponse(what, status_code=404, headers={"Cache-Control": "no-store"})


@page()
async def download(request: Request, user: SignedIn) -> Response:
    """GET /messages/{id}/attachments/{n}: attachment ``n`` (1, 2, … as the page lists them),
    its exact bytes, as a download under a safe name."""
    context = web(request)
    number = int(request.path_params["n"])
    try:
        found = await context.call(
            attachment_file, message_id=int(request.path_params["id"]), index=number - 1
        )
    except NotFoundError as exc:
        return _not_found(exc.message)
    headers = {**_FILE_HEADERS, "Content-Disposition": content_disposition(found.name)}
    return Response(found.data, media_type=found.content_type, headers=headers)


@page()
async def preview(request: Request, user: SignedIn) -> Response:
    """GET /messages/{id}/preview.png: the first page of the letter's first PDF, as PNG."""
    context = web(request)
    try:
        png = await context.call(
            pdf_preview, message_id=int(request.path_params["id"]), width=PREVIEW_WIDTH
        )
    except (NotFoundError, AttachmentError) as exc:
        return _not_found(exc.message)
    return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})


ROUTES = [
    Route("/messages/{id:int}/attachments/{n:int}", download, methods=["GET"]),
    Route("/messages/{id:int}/preview.png", preview, methods=["GET"]),
]
