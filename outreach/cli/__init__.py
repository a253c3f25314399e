"""The ``outreach`` command line: thin commands over the service modules.

Exit codes: 0 success, 1 a user error (one line on stderr, no traceback), 2 a usage error.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from outreach import __version__
from outreach.cli import (
    campaign,
    contacts,
    core,
    queue,
    replies,
    review,
    send,
    status,
    suppressions,
    templates,
)
from outreach.cli.context import AppContext
from outreach.cli.output import err_console
from outreach.db import OperationalError
from outreach.errors import OutreachError

app = typer.Typer(
    name="outreach",
    help="Milestone-countdown email outreach: plan, review, send, and track replies.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"outreach {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            envvar="OUTREACH_CONFIG",
            help="A TOML settings file (OUTREACH_* environment variables win over it).",
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    ctx.obj = AppContext(config=config)
    ctx.call_on_close(ctx.obj.close)


core.register(app)
status.register(app)
send.register(app)
app.add_typer(campaign.app, name="campaign", help="Load, list, show, pause and resume campaigns.")
app.add_typer(contacts.app, name="contacts", help="Import and list contacts.")
app.add_typer(templates.app, name="templates", help="Check and preview letter templates.")
app.add_typer(review.app, name="review", help="Read, approve, reject and edit queued letters.")
app.add_typer(queue.app, name="queue", help="Messages in any state; resolve and cancel.")
app.add_typer(replies.app, name="replies", help="Fetch, import, list and reclassify replies.")
app.add_typer(
    suppressions.app, name="suppressions", help="List, add and remove suppressed addresses."
)


def main() -> None:
    """Console-script entry point: user errors become one line and exit 1.

    Typer (standalone mode) handles --help, usage errors (exit 2) and Ctrl-C itself; what
    reaches us is an :class:`OutreachError` (one line, exit 1), a database that cannot be
    reached (one line, exit 1), or a programming error (its traceback).
    """
    try:
        app()
    except OutreachError as exc:
        err_console.print(f"error: {exc.message}", markup=False)
        sys.exit(1)
    except OperationalError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        err_console.print(f"error: database: {detail}", markup=False)
        sys.exit(1)
