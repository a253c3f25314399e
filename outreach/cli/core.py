"""Top-level commands: init, plan, daemon, demo (status and countdown: :mod:`.status`; send:
:mod:`.send`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from outreach.cli.context import app_context, clock_option
from outreach.cli.options import CampaignOption, JsonOption, NowOption
from outreach.cli.output import console, err_console, print_json
from outreach.clock import clock_for, parse_now
from outreach.db import migrate


def init(ctx: typer.Context) -> None:
    """Create the database, or upgrade it to this version's schema (a no-op when current)."""
    app = app_context(ctx)
    engine = app.engine(check=False)
    before, after = migrate(engine)
    where = engine.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"database {where} is up to date (schema {after})")
    elif before is None:
        console.print(f"created database {where} (schema {after})")
    else:
        console.print(f"upgraded database {where} from schema {before} to {after}")


def plan(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    json_: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Queue what is due within each campaign's lookahead (idempotent)."""
    from outreach.errors import TemplateError
    from outreach.planner import plan as do_plan

    app_ = app_context(ctx)
    report = do_plan(
        app_.engine(), now=clock_option(now).now(), settings=app_.settings, campaign=campaign
    )
    if json_:
        print_json(
            {
                "queued": report.queued,
                "auto_approved": report.auto_approved,
                "by_campaign": report.campaigns,
                "paused": report.skipped_paused,
                "missed": report.missed,
                "render_errors": [e.__dict__ for e in report.render_errors],
            }
        )
    else:
        console.print(
            f"queued {report.queued} message(s)"
            + (f" ({report.auto_approved} auto-approved)" if report.auto_approved else "")
            + "".join(f"; {slug}: {n}" for slug, n in sorted(report.campaigns.items())),
            markup=False,
        )
        if report.missed:
            console.print(
                f"{report.missed} dated letter(s) not queued: more than the lookahead overdue",
                markup=False,
            )
        for slug in report.skipped_paused:
            console.print(f"{slug}: paused, not planned", markup=False)
    if report.render_errors:
        for e in report.render_errors[:20]:
            err_console.print(
                f"render error: {e.campaign}/{e.step} for {e.contact}: {e.error}", markup=False
            )
        raise TemplateError(
            f"{len(report.render_errors)} message(s) failed to render (recorded as render_error)"
        )


def daemon(
    ctx: typer.Context,
    once: Annotated[
        bool, typer.Option("--once", help="Run each job once and exit (cron, tests).")
    ] = False,
    now: NowOption = None,
) -> None:
    """Plan, dispatch, fetch replies and sweep leases on a schedule, until SIGTERM/SIGINT."""
    from outreach.daemon import start
    from outreach.logs import setup_logging

    app_ = app_context(ctx)
    settings = app_.settings
    setup_logging(settings.log_format, settings.log_level)
    fixed = parse_now(now)
    raise typer.Exit(
        start(
            app_.engine(check=False), settings, clock=clock_for(fixed) if fixed else None, once=once
        )
    )


def demo(
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Where to put the database and .eml files (default: a new temp folder)."
        ),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only the final summary.")] = False,
) -> None:
    """The whole pipeline on the sample campaign, offline, in seconds."""
    from outreach.demo import run_demo

    result = run_demo(
        directory, echo=lambda line: console.print(line, markup=False, highlight=False), quiet=quiet
    )
    if quiet:
        console.print(
            f"funnel: {', '.join(f'{k} {v}' for k, v in result.funnel.items() if v)}; "
            f"{result.eml_count} .eml file(s) in {result.folder}",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(plan)
    app.command()(daemon)
    app.command()(demo)
