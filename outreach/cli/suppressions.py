"""`outreach suppressions …`: list, add and remove suppressed addresses, with a reason.

The work is in :mod:`outreach.operations.suppressions` (the web console calls the same
functions); these commands only call it and print.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Annotated, TypeVar

import typer

from outreach.cli.context import acting, app_context
from outreach.cli.options import JsonOption, NowOption
from outreach.cli.output import cell, console, print_json, table

T = TypeVar("T")

app = typer.Typer(no_args_is_help=True)

EmailArgument = Annotated[str, typer.Argument(metavar="EMAIL", help="The address.")]
ReasonOption = Annotated[
    str, typer.Option("--reason", help="Why (recorded with the change).", show_default=False)
]


@app.command("list")
def list_(ctx: typer.Context, json_: JsonOption = False) -> None:
    """Every suppressed address, newest first, with why and who or what added it."""
    from outreach.operations.suppressions import suppression_items

    items = suppression_items(app_context(ctx).engine())
    if json_:
        print_json([asdict(item) for item in items])
        return
    if not items:
        console.print("no suppressed addresses")
        return
    title = f"{len(items)} suppressed address{'es' if len(items) != 1 else ''}"
    rows = (
        (
            cell(item.email),
            cell(item.reason),
            cell((item.detail or "")[:80]),
            cell(f"{item.created_at:%Y-%m-%d %H:%M}"),
            cell(item.actor),
        )
        for item in items
    )
    console.print(
        table(
            ("email", "reason", "detail", "added", "by"),
            rows,
            title=title,
            no_wrap=("email", "reason", "added"),
        )
    )


def _change(
    ctx: typer.Context, operation: Callable[..., T], *, email: str, reason: str, now: str | None
) -> T:
    """``operation`` (add or lift) on ``email``, by the CLI's reviewer, at ``--now``."""
    app_ = app_context(ctx)
    return operation(
        app_.engine(),
        email=email,
        reason=reason,
        **acting(app_, now),
    )


@app.command("add")
def add(
    ctx: typer.Context, email: EmailArgument, reason: ReasonOption, now: NowOption = None
) -> None:
    """Suppress an address: it is never mailed again, and its unsent letters are cancelled."""
    from outreach.operations.suppressions import add_suppression

    change = _change(ctx, add_suppression, email=email, reason=reason, now=now)
    if not change.changed:
        console.print(f"{change.email}: already suppressed; nothing changed", markup=False)
        return
    console.print(
        f"{change.email}: suppressed; {change.cancelled} unsent letter(s) cancelled", markup=False
    )


@app.command("remove")
def remove(
    ctx: typer.Context, email: EmailArgument, reason: ReasonOption, now: NowOption = None
) -> None:
    """Lift a suppression. Nothing is sent: cancelled letters stay cancelled, and the next plan
    may plan the contact's later steps again."""
    from outreach.operations.suppressions import lift_suppression

    change = _change(ctx, lift_suppression, email=email, reason=reason, now=now)
    if not change.changed:
        console.print(f"{change.email}: was not suppressed; nothing changed", markup=False)
        return
    lines = [
        f"{change.email}: suppression lifted; nothing is re-sent (the next plan may plan again)"
    ]
    lines += [
        f"  enrollment {r.enrollment_id}: {r.current.value} -> {r.restore_to.value}"
        for r in change.restored
    ]
    lines += [f"  {note}" for note in change.notes]
    console.print("\n".join(lines), markup=False)
