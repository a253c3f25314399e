"""Who a request is, and whether it may do what it asks.

* :func:`page` wraps a console endpoint: no live session → the sign-in page (a POST is
  refused, 403); a role below the one needed → 403; a POST without the session's CSRF token →
  403 before anything is read or written.
* :func:`api` wraps a JSON endpoint: an ``Authorization: Bearer`` API token or a session
  cookie, else 401.
* The sign-in and set-password forms (no session yet) carry a double-submit token: a random
  value in an HttpOnly, SameSite=Strict cookie that the form must repeat.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from outreach.accounts.credentials import same_secret
from outreach.accounts.signin import SignedIn, api_user, session_user
from outreach.identity import Role, role_allows
from outreach.tokens import new_token
from outreach.web.context import WebContext, web
from outreach.web.pages import render

Handler = Callable[[Request, SignedIn], Awaitable[Response]]

#: The form field every state-changing form carries.
CSRF_FIELD = "csrf"
#: The cookie of the pre-session (double-submit) CSRF token.
FORM_COOKIE = "outreach_form"


def session_cookie_name(context: WebContext) -> str:
    """The session cookie's name (``__Host-`` prefixed when it is Secure)."""
    return "__Host-outreach_session" if context.secure_cookies else "outreach_session"


def set_session_cookie(response: Response, context: WebContext, token: str) -> None:
    """Give the browser its session cookie: HttpOnly, SameSite=Lax, Secure over https."""
    response.set_cookie(
        session_cookie_name(context),
        token,
        max_age=int(context.sessions.absolute.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=context.secure_cookies,
    )


def clear_session_cookie(response: Response, context: WebContext) -> None:
    """Make the browser forget its session cookie."""
    response.delete_cookie(
        session_cookie_name(context),
        path="/",
        httponly=True,
        samesite="lax",
        secure=context.secure_cookies,
    )


def session_token(request: Request) -> str | None:
    """The session token the request's cookie carries, if any."""
    return request.cookies.get(session_cookie_name(web(request)))


def client_address(request: Request) -> str:
    """The client's address as the server saw it (for throttling)."""
    return request.client.host if request.client else "unknown"


async def current_user(request: Request) -> SignedIn | None:
    """The account the request's session cookie signs in, or None."""
    context = web(request)
    token = session_token(request)
    if not token:
        return None
    return await context.call(session_user, token=token, now=context.now(), policy=context.sessions)


def forbidden(request: Request, reason: str) -> Response:
    """The 403 page."""
    return render(request, "forbidden.html", status_code=403, reason=reason)


def _sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)


def page(
    needed: Role = Role.REVIEWER,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Decorate a console endpoint ``handler(request, user)`` (see the module docstring). On
    a POST the checked form is in ``request.state.form``."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            user = await current_user(request)
            if user is None:
                if request.method == "GET":
                    return _sign_in_redirect(request)
                return forbidden(request, "You are not signed in (or your session ended).")
            request.state.user = user
            if not role_allows(user.role, needed):
                return forbidden(request, f"This needs the {needed.value} role.")
            if request.method == "POST":
                form = await request.form()
                if not same_secret(_field(form, CSRF_FIELD), user.csrf):
                    return forbidden(request, "The form's security token is missing or wrong.")
                request.state.form = form
            return await handler(request, user)

        return endpoint

    return wrap


def _field(form: FormData, name: str) -> str | None:
    value = form.get(name)
    return value if isinstance(value, str) else None


def api(
    needed: Role = Role.REVIEWER,
) -> Callable[[Handler], Callable[[Request], Awaitable[Response]]]:
    """Decorate a JSON endpoint: an API token (``Authorization: Bearer``) or a session."""

    def wrap(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        @functools.wraps(handler)
        async def endpoint(request: Request) -> Response:
            context = web(request)
            scheme, _, token = request.headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                user = await context.call(api_user, token=token.strip(), now=context.now())
            else:
                user = await current_user(request)
            if user is None:
                return JSONResponse({"error": "sign in, or send an API token"}, status_code=401)
            if not role_allows(user.role, needed):
                return JSONResponse({"error": f"needs the {needed.value} role"}, status_code=403)
            request.state.user = user
            return await handler(request, user)

        return endpoint

    return wrap


def form_token(request: Request) -> tuple[str, bool]:
    """The pre-session CSRF token for a sign-in or set-password form: the cookie's, or a new
    one (then True: the response must set it with :func:`set_form_cookie`)."""
    existing = request.cookies.get(FORM_COOKIE)
    if existing and len(existing) <= 128:
        return existing, False
    return new_token(), True


def set_form_cookie(response: Response, context: WebContext, token: str) -> None:
    """Give the browser the pre-session CSRF cookie (HttpOnly, SameSite=Strict)."""
    response.set_cookie(
        FORM_COOKIE,
        token,
        path="/",
        httponly=True,
        samesite="strict",
        secure=context.secure_cookies,
    )


async def checked_public_form(request: Request) -> FormData | None:
    """The form of a sign-in or set-password POST when it repeats its cookie's token."""
    form = await request.form()
    cookie = request.cookies.get(FORM_COOKIE)
    if not cookie or not same_secret(_field(form, CSRF_FIELD), cookie):
        return None
    return form


def form_text(request: Request, name: str, default: str = "") -> str:
    """A text field of the checked form of this POST."""
    form: Any = request.state.form
    value = form.get(name, default)
    return value if isinstance(value, str) else default
