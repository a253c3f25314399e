"""`outreach send`: dispatch approved, due mail now."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import asdict
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from outreach.cli.common import (
    CampaignOption,
    JsonOption,
    NowOption,
    app_context,
    clock_option,
    console,
    print_json,
)
from outreach.errors import NotFoundError

#: Outcome kinds that finish a claimed message (for the progress bar).
_FINISHED = ("sent", "retrying", "failed", "cancelled", "stale", "released", "unknown")


def send(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="Send at most this many messages.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would go now; send and change nothing.")
    ] = False,
    json_: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Dispatch approved mail that is due now (inside its send window, under the daily limit),
    with a summary: sent, retrying, failed, and what was skipped and why."""
    from outreach.dispatch import Dispatcher, _campaigns, preview_due

    app = app_context(ctx)
    clock = clock_option(now)
    settings = app.settings
    engine = app.engine()
    if campaign is not None:
        with app.session() as session:
            if not _campaigns(session, slug=campaign):
                raise NotFoundError(f"no campaign {campaign!r}")
    if dry_run:
        with app.session() as session:
            items, skipped = preview_due(session, now=clock.now(), limit=limit, campaign=campaign)
        if json_:
            print_json({"would_send": [asdict(i) for i in items], "skipped": skipped})
            return
        if items:
            table = Table(title=f"would send now ({len(items)})")
            for column in ("id", "campaign", "to", "subject", "scheduled (UTC)", "status"):
                table.add_column(column)
            for i in items:
                table.add_row(
                    *(
                        Text(str(v))
                        for v in (
                            i.id,
                            i.campaign,
                            i.to,
                            i.subject,
                            i.scheduled_for.strftime("%Y-%m-%d %H:%M"),
                            i.status,
                        )
                    )
                )
            console.print(table)
        else:
            console.print("nothing is due now", markup=False)
        for reason, n in skipped.items():
            console.print(f"would skip {n}: {reason}", markup=False)
        console.print("dry run: nothing was sent or changed", markup=False)
        return

    def stale_check(session, message, today):  # type: ignore[no-untyped-def]
        from outreach.planner import stale_reason_for

        return stale_reason_for(session, message, today=today, settings=settings)

    progress: Progress | None = None
    task = None
    if console.is_terminal and not json_:
        with app.session() as session:
            due, _ = preview_due(session, now=clock.now(), limit=limit, campaign=campaign)
        progress = Progress(
            TextColumn("sending"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        task = progress.add_task("send", total=len(due))

    def on_outcome(kind: str, n: int) -> None:
        if progress is not None and task is not None and kind in _FINISHED:
            progress.advance(task, n)

    dispatcher = Dispatcher(
        engine, settings, clock=clock, stale_check=stale_check, on_outcome=on_outcome
    )

    async def run() -> object:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, dispatcher.stop)
        return await dispatcher.run_once(limit=limit, campaign=campaign)

    if progress is not None:
        with progress:
            summary = asyncio.run(run())
    else:
        summary = asyncio.run(run())
    data = summary.as_dict()  # type: ignore[attr-defined]
    if json_:
        print_json(data)
        return
    parts = [
        f"{data[k]} {k}"
        for k in ("sent", "retrying", "failed", "cancelled", "stale", "unknown", "released")
        if data[k] or k == "sent"
    ]
    console.print(", ".join(parts), markup=False)
    if data["lost_lease"]:
        console.print(
            f"{data['lost_lease']} message(s) were taken over by another dispatcher", markup=False
        )
    if data["swept_released"] or data["swept_unknown"]:
        console.print(
            f"expired leases: {data['swept_released']} back to approved, "
            f"{data['swept_unknown']} unknown (see `outreach queue list --status unknown`)",
            markup=False,
        )
    for reason, n in data["skipped"].items():
        console.print(f"skipped {n}: {reason}", markup=False)


def register(app: typer.Typer) -> None:
    app.command()(send)
