"""`outreach web`: serve the console (the same services as the CLI, in a browser)."""

from __future__ import annotations

from typing import Annotated

import typer

from outreach.cli.context import app_context
from outreach.cli.output import console


def web(
    ctx: typer.Context,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Listen on this address (default OUTREACH_WEB_HOST, 127.0.0.1)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="Listen on this port (default OUTREACH_WEB_PORT, 8080).",
        ),
    ] = None,
) -> None:
    """Serve the web console until Ctrl-C (accounts: outreach users add NAME --role ROLE)."""
    from outreach.logs import setup_logging
    from outreach.web.app import create_app
    from outreach.web.server import serve

    app_ = app_context(ctx)
    settings = app_.settings
    setup_logging(settings.log_format, settings.log_level)
    engine = app_.engine()
    where_host = host or settings.web_host
    where_port = port or settings.web_port
    console.print(f"outreach console on http://{where_host}:{where_port}/", markup=False)
    serve(create_app(settings, engine=engine), host=where_host, port=where_port)


def register(app: typer.Typer) -> None:
    app.command()(web)
