"""`outreach users …`: the console's accounts (thin over :mod:`outreach.accounts.users`)."""

from __future__ import annotations

import sys
from dataclasses import asdict
from typing import Annotated

import typer

from outreach.cli.context import AppContext, app_context, cli_reviewer, clock_option
from outreach.cli.options import JsonOption, NowOption
from outreach.cli.output import cell, console, print_json, table
from outreach.errors import AccountError

app = typer.Typer(no_args_is_help=True)

NameArgument = Annotated[str, typer.Argument(metavar="NAME", help="The account name.")]


def _read_password() -> str:
    """The new password: asked twice, hidden, at a terminal; one line of stdin otherwise."""
    if sys.stdin.isatty():
        return str(typer.prompt("new password", hide_input=True, confirmation_prompt=True))
    line = sys.stdin.readline()
    if not line:
        raise AccountError("no password given on standard input")
    return line.rstrip("\r\n")


def _print_link(app_: AppContext, name: str, token: str) -> None:
    from outreach.accounts.users import password_link_url

    url = password_link_url(app_.settings.console_url, token)
    console.print(
        f"one-time link for {name} to set a password (valid 72 hours):\n{url}", markup=False
    )


@app.command("add")
def add(
    ctx: typer.Context,
    name: NameArgument,
    role: Annotated[
        str, typer.Option("--role", help="reviewer, operator or admin.", show_default=False)
    ],
    prompt: Annotated[
        bool,
        typer.Option("--prompt", help="Ask for the password now instead of printing a link."),
    ] = False,
    now: NowOption = None,
) -> None:
    """Create an account; prints a one-time set-password link (or asks, with --prompt)."""
    from outreach.accounts.users import add_user, password_link, set_password

    app_ = app_context(ctx)
    actor = cli_reviewer(app_).recorded
    moment = clock_option(now).now()
    password = _read_password() if prompt else None
    with app_.session() as session:
        account = add_user(session, name=name, role=role, now=moment, actor=actor)
        if password is not None:
            set_password(session, name=account.name, password=password, now=moment, actor=actor)
            token = None
        else:
            token = password_link(session, name=account.name, now=moment, actor=actor)
    console.print(f"account {account.name} created ({account.role})", markup=False)
    if token is not None:
        _print_link(app_, account.name, token)


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Every account: role, whether it is active and has a password."""
    from outreach.accounts.users import list_users

    with app_context(ctx).session() as session:
        users = list_users(session)
    if json_:
        print_json([asdict(u) for u in users])
        return
    if not users:
        console.print("no accounts (outreach users add NAME --role reviewer)")
        return
    rows = (
        (
            cell(u.name),
            cell(u.role),
            cell("yes" if u.active else "disabled"),
            cell("set" if u.has_password else "not set"),
            cell(u.created_at.isoformat()[:16].replace("T", " ")),
        )
        for u in users
    )
    columns = ("name", "role", "active", "password", "created")
    console.print(table(columns, rows, title=f"accounts ({len(users)})", no_wrap=("name",)))


@app.command("disable")
def disable(ctx: typer.Context, name: NameArgument, now: NowOption = None) -> None:
    """Disable an account: no more sign-in; its sessions end and its tokens stop working."""
    from outreach.accounts.users import disable_user

    app_ = app_context(ctx)
    actor = cli_reviewer(app_).recorded
    with app_.session() as session:
        changed = disable_user(session, name=name, now=clock_option(now).now(), actor=actor)
    console.print(f"account {name} " + ("disabled" if changed else "was already disabled"))


@app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: NameArgument,
    link: Annotated[
        bool, typer.Option("--link", help="Print a one-time set-password link instead.")
    ] = False,
    now: NowOption = None,
) -> None:
    """Set an account's password (asked twice at a terminal, else read from stdin); its
    sessions end."""
    from outreach.accounts.users import password_link, set_password

    app_ = app_context(ctx)
    actor = cli_reviewer(app_).recorded
    moment = clock_option(now).now()
    password = None if link else _read_password()
    with app_.session() as session:
        if password is None:
            token = password_link(session, name=name, now=moment, actor=actor)
        else:
            set_password(session, name=name, password=password, now=moment, actor=actor)
    if password is None:
        _print_link(app_, name, token)
    else:
        console.print(f"password of {name} changed; its sessions were ended", markup=False)


@app.command("token")
def token(ctx: typer.Context, name: NameArgument, now: NowOption = None) -> None:
    """Print a new API token for /api/… (Authorization: Bearer TOKEN); the old one stops
    working."""
    from outreach.accounts.users import new_api_token

    app_ = app_context(ctx)
    actor = cli_reviewer(app_).recorded
    with app_.session() as session:
        secret = new_api_token(session, name=name, now=clock_option(now).now(), actor=actor)
    console.print(secret, markup=False)
