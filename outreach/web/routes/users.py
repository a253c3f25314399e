"""Accounts, for admins: list, add (with a one-time set-password link), disable, new link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from outreach.accounts.signin import SignedIn
from outreach.accounts.users import (
    add_user,
    disable_user,
    list_users,
    password_link,
    password_link_url,
)
from outreach.db import Session
from outreach.errors import OutreachError
from outreach.identity import ROLE_ORDER, Role
from outreach.web.auth import form_text, page
from outreach.web.context import web
from outreach.web.pages import render_outcome


async def show_users(
    request: Request,
    *,
    error: str | None = None,
    link: tuple[str, str] | None = None,
) -> Response:
    """The accounts page; ``link``: (account, one-time URL) just issued, shown once."""
    context = web(request)
    users = await context.call(list_users)
    return render_outcome(
        request,
        "users.html",
        error=error,
        users=users,
        roles=[r.value for r in ROLE_ORDER],
        link=link,
    )


@page(Role.ADMIN)
async def users(request: Request, user: SignedIn) -> Response:
    """GET /users."""
    return await show_users(request)


def _create(
    session: Session, *, name: str, role: str, now: datetime, actor: str
) -> tuple[str, str]:
    """Add the account and issue its first set-password token: (name, token)."""
    account = add_user(session, name=name, role=role, now=now, actor=actor)
    return account.name, password_link(session, name=account.name, now=now, actor=actor)


def _relink(session: Session, *, name: str, now: datetime, actor: str) -> tuple[str, str]:
    """A new set-password token for the account: (name, token)."""
    return name, password_link(session, name=name, now=now, actor=actor)


async def _issue_link(
    request: Request, user: SignedIn, work: Callable[..., tuple[str, str]], **fields: str
) -> Response:
    """``work`` (an account's name and a set-password token) as the signed-in admin: the page
    with that account's one-time link, or with the error."""
    context = web(request)
    try:
        name, token = await context.call(work, **fields, **context.acting(user))
    except OutreachError as exc:
        return await show_users(request, error=exc.message)
    return await show_users(
        request, link=(name, password_link_url(context.settings.console_url, token))
    )


@page(Role.ADMIN)
async def add(request: Request, user: SignedIn) -> Response:
    """POST /users: a new account and its one-time set-password link (shown on this page
    only: it is not stored)."""
    return await _issue_link(
        request, user, _create, name=form_text(request, "name"), role=form_text(request, "role")
    )


@page(Role.ADMIN)
async def new_link(request: Request, user: SignedIn) -> Response:
    """POST /users/{name}/link: a new one-time set-password link for an account."""
    return await _issue_link(request, user, _relink, name=request.path_params["name"])


@page(Role.ADMIN)
async def disable(request: Request, user: SignedIn) -> Response:
    """POST /users/{name}/disable: no more sign-in; its sessions and tokens end."""
    context = web(request)
    try:
        await context.call(disable_user, name=request.path_params["name"], **context.acting(user))
    except OutreachError as exc:
        return await show_users(request, error=exc.message)
    return RedirectResponse("/users?done=disabled", status_code=303)


ROUTES = [
    Route("/users", users, methods=["GET"]),
    Route("/users", add, methods=["POST"]),
    Route("/users/{name}/link", new_link, methods=["POST"]),
    Route("/users/{name}/disable", disable, methods=["POST"]),
]
