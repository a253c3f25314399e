"""`outreach queue …` commands: messages in any state.

``list`` is here; ``resolve`` and ``cancel`` belong with dispatch and are added below it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from outreach.cli.common import CampaignOption, JsonOption, app_context, console, print_json
from outreach.states import MessageStatus

app = typer.Typer(no_args_is_help=True)


@app.command("list")
def list_messages(
    ctx: typer.Context,
    status: Annotated[
        MessageStatus | None,
        typer.Option("--status", "-s", help="Only messages in this state.", case_sensitive=False),
    ] = None,
    campaign: CampaignOption = None,
    json_: JsonOption = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="At most this many messages.")
    ] = None,
) -> None:
    """Messages in any state (or one --status), oldest scheduled first."""
    from outreach.review import list_queue

    app_ = app_context(ctx)
    with app_.session() as session:
        items = list_queue(session, status=status, campaign=campaign, limit=limit)
    if json_:
        print_json([asdict(item) for item in items])
        return
    if not items:
        console.print("no messages" + (f" in state {status.value}" if status else ""))
        return
    table = Table(title=f"messages ({len(items)})")
    for column in ("id", "campaign", "step", "to", "subject", "status", "scheduled (UTC)"):
        table.add_column(column)
    table.add_column("attempts", justify="right")
    table.add_column("last SMTP reply")
    for item in items:
        reply = " ".join(str(p) for p in (item.smtp_code, item.smtp_response) if p is not None)
        table.add_row(
            *(
                Text(str(v))
                for v in (
                    item.id,
                    item.campaign,
                    item.step,
                    item.to_email,
                    item.subject,
                    item.status,
                    item.scheduled_for[:16].replace("T", " "),
                    item.attempts,
                    reply,
                )
            )
        )
    console.print(table)
