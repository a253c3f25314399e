"""`outreach send`: dispatch approved, due mail now."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from outreach.cli.context import app_context, clock_option
from outreach.cli.options import CampaignOption, JsonOption, NowOption
from outreach.cli.output import cell, console, print_json, table
from outreach.errors import DispatchError

if TYPE_CHECKING:
    from outreach.dispatch.runner import SendPreview
    from outreach.dispatch.values import DispatchSummary

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
    from outreach.dispatch.runner import preview_send, require_campaign, send_now

    app = app_context(ctx)
    clock = clock_option(now)
    engine = app.engine()
    require_campaign(engine, campaign)
    if dry_run:
        preview = preview_send(engine, now=clock.now(), limit=limit, campaign=campaign)
        _print_preview(preview, json_=json_)
        return
    if not console.is_terminal or json_:
        summary = send_now(engine, app.settings, clock=clock, limit=limit, campaign=campaign)
    else:
        due = preview_send(engine, now=clock.now(), limit=limit, campaign=campaign).items
        with _progress(total=len(due)) as on_outcome:
            summary = send_now(
                engine,
                app.settings,
                clock=clock,
                limit=limit,
                campaign=campaign,
                on_outcome=on_outcome,
            )
    relay = f"{app.settings.smtp_host}:{app.settings.smtp_port}"
    _print_summary(summary, json_=json_, relay=relay)


@contextmanager
def _progress(*, total: int) -> Iterator[Callable[[str, int], None]]:
    """A transient progress bar over ``total`` messages; yields the dispatcher's
    ``on_outcome`` callback that advances it."""
    progress = Progress(
        TextColumn("sending"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )
    task = progress.add_task("send", total=total)

    def on_outcome(kind: str, n: int) -> None:
        if kind in _FINISHED:
            progress.advance(task, n)

    with progress:
        yield on_outcome


def _print_preview(preview: SendPreview, *, json_: bool) -> None:
    """``send --dry-run``'s output: what would go now, and what would be skipped and why."""
    if json_:
        print_json(
            {
                "would_send": [asdict(i) for i in preview.items],
                "skipped": preview.skipped,
                "waiting": [asdict(w) for w in preview.waiting],
            }
        )
        return
    if preview.items:
        columns = ("id", "campaign", "to", "subject", "scheduled (UTC)", "status")
        listed = [
            [
                cell(v)
                for v in (
                    i.id,
                    i.campaign,
                    i.to,
                    i.subject,
                    f"{i.scheduled_for:%Y-%m-%d %H:%M}",
                    i.status,
                )
            ]
            for i in preview.items
        ]
        console.print(table(columns, listed, title=f"would send now ({len(preview.items)})"))
    else:
        console.print("nothing is due now", markup=False)
    for w in preview.waiting:
        when = f"next try {w.next_try_at:%Y-%m-%d %H:%M} UTC" if w.next_try_at else "no next try"
        console.print(f"waiting {w.count}: {w.reason} — {when}", markup=False)
    console.print("dry run: nothing was sent or changed", markup=False)


def _print_summary(summary: DispatchSummary, *, json_: bool, relay: str) -> None:
    """A run's summary: JSON, or a line of counts, then each reason mail did not go
    (``2 retrying: connection refused by 127.0.0.1:25``) and what was skipped. Raises
    :class:`DispatchError` (exit 1) when the relay could not be reached at all."""
    data = summary.as_dict()
    if json_:
        print_json(data)
    else:
        _print_lines(data)
    if summary.relay_unreachable:
        raise DispatchError(
            f"the SMTP relay {relay} could not be reached, so nothing was sent (check "
            "OUTREACH_SMTP_HOST and OUTREACH_SMTP_PORT); the messages will be retried"
        )


def _print_lines(data: dict[str, Any]) -> None:
    parts = [
        f"{data[k]} {k}"
        for k in ("sent", "retrying", "failed", "cancelled", "stale", "unknown", "released")
        if data[k] or k == "sent"
    ]
    console.print(", ".join(parts), markup=False)
    for kind, by_reason in data["reasons"].items():
        for reason, n in by_reason.items():
            console.print(f"{n} {kind}: {reason}", markup=False)
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
