"""`outreach replies …`: fetch (IMAP), import (files) and list replies.

The work is in :mod:`outreach.replies` (:mod:`~outreach.replies.mailbox` for IMAP,
:mod:`~outreach.replies.intake` for files, :mod:`~outreach.replies.listing` for the list);
these commands only call it and print.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table

from outreach.cli.common import (
    CampaignOption,
    JsonOption,
    NowOption,
    app_context,
    clock_option,
    console,
    err_console,
    print_json,
)
from outreach.states import Classification

if TYPE_CHECKING:
    from outreach.replies.report import IntakeReport

app = typer.Typer(no_args_is_help=True)


def _print_report(report: IntakeReport, json_: bool) -> None:
    if json_:
        print_json(report.as_dict())
        return
    console.print(str(report), markup=False)
    if report.by_class:
        table = Table(title="new messages by classification")
        table.add_column("classification")
        table.add_column("count", justify="right")
        for kind, count in sorted(report.by_class.items()):
            table.add_row(kind, str(count))
        console.print(table)


@app.command()
def fetch(ctx: typer.Context, now: NowOption = None, json_: JsonOption = False) -> None:
    """Poll the IMAP mailbox once (OUTREACH_IMAP_*): new mail is matched, classified, acted on.

    Read-only on the server: nothing is deleted or flagged.
    """
    from outreach.replies.mailbox import fetch_mailbox, imap_config

    app_ = app_context(ctx)
    settings = app_.settings
    imap_config(settings)  # a configuration error before touching the database
    report = fetch_mailbox(app_.engine(), settings=settings, now=clock_option(now).now())
    _print_report(report, json_)


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: Annotated[
        list[Path],
        typer.Argument(metavar="FILE…", help=".eml files, .mbox files or Maildir folders."),
    ],
    now: NowOption = None,
    json_: JsonOption = False,
) -> None:
    """Import replies from files: each is stored once, matched, classified and acted on."""
    from outreach.replies.intake import import_paths

    app_ = app_context(ctx)
    engine = app_.engine()
    tty = sys.stderr.isatty()
    with Progress(
        SpinnerColumn(),
        TextColumn("importing replies: {task.completed} messages"),
        console=err_console,
        disable=not tty,
        transient=True,
    ) as bar:
        task = bar.add_task("import", total=None)
        report = import_paths(
            engine,
            paths,
            settings=app_.settings,
            now=clock_option(now).now(),
            progress=lambda n: bar.advance(task, n),
        )
    _print_report(report, json_)


@app.command("list")
def list_(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    json_: JsonOption = False,
    class_: Annotated[
        Classification | None,
        typer.Option("--class", help="Only this classification.", case_sensitive=False),
    ] = None,
    unmatched: Annotated[
        bool, typer.Option("--unmatched", help="Only mail that matched no letter.")
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="At most this many, newest first.")
    ] = None,
) -> None:
    """Who answered which letter, when, how it was classified, and what they wrote."""
    from outreach.json_reports import replies_list
    from outreach.replies.listing import list_replies

    filters = {"campaign": campaign, "classification": class_, "unmatched": unmatched}
    with app_context(ctx).session() as session:
        if json_:
            print_json(replies_list(session, **filters, limit=limit))
            return
        items = list_replies(session, **filters, limit=limit)
    if not items:
        console.print(
            "no replies" + (" matching these filters" if (campaign or class_ or unmatched) else "")
        )
        return
    console.print(
        f"{len(items)} repl{'y' if len(items) == 1 else 'ies'}, newest first", markup=False
    )
    for item in items:
        who = item.from_addr or "(no sender)"
        if item.contact:
            who = f"{item.contact_name} <{item.contact}>" if item.contact_name else item.contact
        kind = item.classification + (f" {item.bounce_status}" if item.bounce_status else "")
        where = f"{item.campaign} / {item.step}" if item.campaign else "(unmatched)"
        lines = [
            f"#{item.id}  {item.received_at:%Y-%m-%d %H:%M} UTC  {kind}  {who}  {where}",
        ]
        if item.matched_subject:
            lines.append(f"    answers: {item.matched_subject}")
        elif item.subject:
            lines.append(f"    subject: {item.subject}")
        text = item.snippet or item.error or item.reason
        if text:
            lines.append(f"    {text}")
        console.print("\n".join(lines), markup=False, highlight=False)
