"""`outreach templates …`: check and preview."""

from __future__ import annotations

from typing import Annotated

import typer

from outreach.cli.context import app_context, clock_option
from outreach.cli.options import NowOption
from outreach.cli.output import console, err_console
from outreach.errors import TemplateError

app = typer.Typer(no_args_is_help=True)


@app.command("check")
def check(ctx: typer.Context) -> None:
    """Compile every template (and language variant) the loaded campaigns use, and render each
    for every step that uses it with the campaign's real context and a contact carrying every
    column of the loaded contacts, under the same strict sandbox as planning."""
    from outreach.operations.templates import check_templates

    app_ = app_context(ctx)
    result = check_templates(app_.engine(), settings=app_.settings)
    for line in result.problems:
        err_console.print(line, markup=False)
    if result.problems:
        raise TemplateError(
            f"{len(result.problems)} template problem(s) in {result.templates} template(s)"
        )
    console.print(
        f"{result.templates} template(s) OK ({result.rendered} letter(s) rendered: every step "
        "and language variant)",
        markup=False,
    )


@app.command("preview")
def preview(
    ctx: typer.Context,
    campaign: Annotated[str, typer.Option("--campaign", "-c", help="Campaign slug.")],
    step: Annotated[str, typer.Option("--step", help="Step key.")],
    contact: Annotated[str, typer.Option("--contact", help="Contact email.")],
    raw: Annotated[
        bool, typer.Option("--raw", help="Print the composed RFC 5322 message.")
    ] = False,
    now: NowOption = None,
) -> None:
    """Print the subject, text and html exactly as planning now would queue them."""
    from outreach.planner import preview as do_preview

    app_ = app_context(ctx)
    with app_.session() as session:
        p = do_preview(
            session,
            campaign=campaign,
            step=step,
            contact_email=contact,
            now=clock_option(now).now(),
            settings=app_.settings,
        )
    if raw:
        typer.echo(p.raw.decode("utf-8", "replace"))
        return
    typer.echo(f"Template: {p.rendered.template}")
    typer.echo(
        f"Scheduled: {p.scheduled_for.isoformat() if p.scheduled_for else '-'} (rendered for {p.send_day})"
    )
    typer.echo(f"Subject: {p.rendered.subject}")
    typer.echo("")
    typer.echo(p.rendered.text)
    if p.rendered.html:
        typer.echo("--- html ---")
        typer.echo(p.rendered.html)
    from outreach.attachments.listing import attachments_in, describe

    for att in describe(attachments_in(p.raw)):
        typer.echo(f"--- attachment: {att.filename} ({att.content_type}, {att.size:,} bytes) ---")
