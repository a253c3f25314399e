"""Signing in and out, and setting a password from a one-time link."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn, open_session, sign_in, sign_out
from outreach.accounts.users import password_link_account, use_password_link
from outreach.errors import AccountError
from outreach.web.auth import (
    checked_public_form,
    clear_session_cookie,
    client_address,
    current_user,
    forbidden,
    form_token,
    page,
    session_token,
    set_form_cookie,
    set_session_cookie,
)
from outreach.web.context import web
from outreach.web.pages import render


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site only (never another host)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _form_page(
    request: Request, template: str, *, status_code: int = 200, **context: object
) -> Response:
    token, new = form_token(request)
    response = render(request, template, status_code=status_code, form_csrf=token, **context)
    if new:
        set_form_cookie(response, web(request), token)
    return response


async def login_page(request: Request) -> Response:
    """GET /login: the sign-in form (or the dashboard when already signed in)."""
    if await current_user(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _form_page(
        request, "login.html", next=safe_next(request.query_params.get("next")), error=None
    )


async def login(request: Request) -> Response:
    """POST /login: check the name and password (throttled), then open a session."""
    form = await checked_public_form(request)
    if form is None:
        return forbidden(request, "The form's security token is missing or wrong; reload it.")
    context = web(request)
    name, password = str(form.get("name", "")), str(form.get("password", ""))
    target = safe_next(str(form.get("next", "")))
    now = context.now()
    outcome = await context.call(
        sign_in,
        name=name,
        password=password,
        address=client_address(request),
        now=now,
        throttle=context.throttle,
    )
    if outcome.account is None:
        return _form_page(
            request, "login.html", status_code=401, next=target, error=outcome.refusal
        )
    old = session_token(request)
    if old:
        await context.call(sign_out, token=old, now=now)
    token = await context.call(
        open_session,
        account=outcome.account,
        address=client_address(request),
        now=now,
        policy=context.sessions,
    )
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, context, token)
    return response


@page()
async def logout(request: Request, user: SignedIn) -> Response:
    """POST /logout: end this session."""
    context = web(request)
    await context.call(sign_out, token=session_token(request), now=context.now())
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, context)
    return response


async def set_password_page(request: Request) -> Response:
    """GET /set-password/{token}: the form, when the link is still valid."""
    context = web(request)
    token = request.path_params["token"]
    account = await context.call(password_link_account, token=token, now=context.now())
    if account is None:
        return render(request, "link_invalid.html", status_code=404)
    return _form_page(request, "set_password.html", name=account.name, error=None)


async def set_password(request: Request) -> Response:
    """POST /set-password/{token}: set the password (twice the same) and use the link up."""
    form = await checked_public_form(request)
    if form is None:
        return forbidden(request, "The form's security token is missing or wrong; reload it.")
    context = web(request)
    token = request.path_params["token"]
    account = await context.call(password_link_account, token=token, now=context.now())
    if account is None:
        return render(request, "link_invalid.html", status_code=404)
    password, again = str(form.get("password", "")), str(form.get("again", ""))
    error = "The two passwords differ." if password != again else None
    if error is None:
        try:
            await context.call(use_password_link, token=token, password=password, now=context.now())
        except AccountError as exc:
            error = exc.message
    if error is not None:
        return _form_page(
            request, "set_password.html", status_code=400, name=account.name, error=error
        )
    return RedirectResponse("/login?done=password", status_code=303)


ROUTES = [
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/set-password/{token}", set_password_page, methods=["GET"]),
    Route("/set-password/{token}", set_password, methods=["POST"]),
]
