"""`outreach campaign …`: load, list, show, pause, resume, archive."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from outreach.cli.context import acting, app_context, clock_option
from outreach.cli.options import JsonOption, NowOption
from outreach.cli.output import console, err_console, milestone_dates, print_json, table
from outreach.fieldcopy import attributes

app = typer.Typer(no_args_is_help=True)


@app.command("load")
def load(
    ctx: typer.Context,
    path: Annotated[
        Path | None,
        typer.Argument(
            help="A campaign file, or a folder of *.toml files (default: OUTREACH_CAMPAIGNS_DIR).",
            show_default=False,
        ),
    ] = None,
    now: NowOption = None,
) -> None:
    """Validate campaign files completely, then load them (a reload updates in place)."""
    from outreach.operations.campaigns import load_campaigns

    app_ = app_context(ctx)
    loads = load_campaigns(
        app_.engine(),
        path if path is not None else app_.settings.campaigns_dir,
        settings=app_.settings,
        **acting(app_, now),
    )
    for item in loads:
        r = item.result
        line = f"{r.slug}: {r.action}"
        if r.changes:
            line += f" ({', '.join(r.changes[:8])}{'…' if len(r.changes) > 8 else ''})"
        if item.replanned.get("replanned") or item.replanned.get("cancelled"):
            line += (
                f"; {item.replanned.get('replanned', 0)} queued message(s) re-planned for review, "
                f"{item.replanned.get('cancelled', 0)} cancelled"
            )
        console.print(line, markup=False)
        for warning in item.warnings:
            err_console.print(f"warning: {warning}", markup=False)


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """The loaded campaigns."""
    from outreach.repository.campaigns import list_campaigns

    with app_context(ctx).session() as session:
        rows = list_campaigns(session)
    if json_:
        shown = ("slug", "name", "state", "timezone", "require_approval")
        print_json([attributes(c, *shown, source=c.source_path) for c in rows])
        return
    listed = [
        (
            c.slug,
            c.name,
            c.state,
            c.timezone,
            _approval_text(c.require_approval, c.approvals_required),
            c.source_path or "",
        )
        for c in rows
    ]
    console.print(table(("slug", "name", "state", "timezone", "approval", "source"), listed))


def _approval_text(require_approval: bool, approvals_required: int) -> str:
    return f"{approvals_required} reviewer(s)" if require_approval else "automatic"


@app.command("show")
def show(ctx: typer.Context, slug: str, json_: JsonOption = False, now: NowOption = None) -> None:
    """One campaign: settings, milestones with days to go, steps."""
    from outreach.operations.campaigns import describe_campaign

    moment = clock_option(now).now()
    with app_context(ctx).session() as session:
        data = describe_campaign(session, slug=slug, now=moment)
    if json_:
        print_json(data)
        return
    sender = data["sender"]
    approval = _approval_text(data["require_approval"], data["approvals_required"])
    console.print(f"{data['slug']} — {data['name']} [{data['state']}]", markup=False)
    console.print(
        f"timezone {data['timezone']}; sender {sender['name']} <{sender['email']}>; "
        f"approval: {approval}; lookahead {data['lookahead_days']} days",
        markup=False,
    )
    milestones = [_milestone_row(m) for m in data["milestones"]]
    console.print(table(("key", "title", "date", "days to go"), milestones, title="milestones"))
    steps = [_step_row(s) for s in data["steps"]]
    console.print(table(("key", "template", "when", "audience"), steps, title="steps"))


def _milestone_row(m: dict[str, Any]) -> tuple[str, ...]:
    days = str(m["days_until"]) if m["phase"] == "upcoming" else m["phase"].replace("_", " ")
    return m["key"], m["title"], milestone_dates(m), days


def _step_row(s: dict[str, Any]) -> tuple[str, ...]:
    when = ", ".join(f"{k}={v}" for k, v in s["when"].items())
    audience = ", ".join(s["audience_tags"]) if s["audience_tags"] else "campaign's"
    return s["key"], s["template"], when, audience


def _set_paused(ctx: typer.Context, slug: str, paused: bool, now: str | None) -> None:
    from outreach.operations.campaigns import pause_campaign

    app_ = app_context(ctx)
    changed = pause_campaign(
        app_.engine(),
        slug=slug,
        paused=paused,
        **acting(app_, now),
    )
    word = "paused" if paused else "resumed"
    console.print(
        f"{slug}: {word}" if changed else f"{slug} was already {'paused' if paused else 'active'}"
    )


@app.command("pause")
def pause(ctx: typer.Context, slug: str, now: NowOption = None) -> None:
    """Emergency brake: no planning and no sending for this campaign, in every daemon."""
    _set_paused(ctx, slug, True, now)


@app.command("resume")
def resume(ctx: typer.Context, slug: str, now: NowOption = None) -> None:
    """Lift the brake; letters that missed their day come back through the stale check."""
    _set_paused(ctx, slug, False, now)


@app.command("archive")
def archive(
    ctx: typer.Context,
    slug: str,
    cancel_unsent: Annotated[
        bool,
        typer.Option("--cancel-unsent", help="Cancel the letters not sent yet (else: refused)."),
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Recorded with the change.")
    ] = None,
    now: NowOption = None,
) -> None:
    """Freeze a finished campaign for good: no planning, sending or reloading; kept, with its
    letters, replies and funnel, for reporting."""
    from outreach.operations.archive import archive_campaign

    app_ = app_context(ctx)
    result = archive_campaign(
        app_.engine(),
        slug=slug,
        cancel_unsent=cancel_unsent,
        reason=reason,
        **acting(app_, now),
    )
    if not result.archived:
        console.print(f"{slug} was already archived", markup=False)
        return
    cancelled = f"; {result.cancelled} unsent letter(s) cancelled" if result.cancelled else ""
    console.print(f"{slug}: archived{cancelled}", markup=False)
