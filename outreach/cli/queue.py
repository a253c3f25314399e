"""`outreach queue …` commands: messages in any state.

``list`` shows the queue; ``resolve`` and ``cancel`` are the operator actions of
:mod:`outreach.dispatch.operator_actions`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from outreach.cli.confirm import confirm_many
from outreach.cli.context import AppContext, acting, app_context, cli_reviewer, clock_option
from outreach.cli.options import CampaignOption, JsonOption, NowOption
from outreach.cli.output import cell, console, print_json, table
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
    now: NowOption = None,
) -> None:
    """Messages in any state (or one --status), oldest scheduled first, with when each will
    next be tried and why it waits (send window, daily limit, retry backoff, paused campaign,
    review)."""
    from outreach.dispatch.waits import queue_listing
    from outreach.json_reports import queue_list

    app_ = app_context(ctx)
    moment = clock_option(now).now()
    with app_.session() as session:
        if json_:
            print_json(
                queue_list(session, now=moment, status=status, campaign=campaign, limit=limit)
            )
            return
        items = queue_listing(session, now=moment, status=status, campaign=campaign, limit=limit)
    if not items:
        console.print("no messages" + (f" in state {status.value}" if status else ""))
        return
    columns = ("id", "campaign", "step", "to", "subject", "status", "scheduled (UTC)")
    columns += ("attempts", "last SMTP reply", "next try (UTC)")
    listed = []
    for item in items:
        reply = " ".join(str(p) for p in (item.smtp_code, item.smtp_response) if p is not None)
        scheduled = item.scheduled_for[:16].replace("T", " ")
        values = (item.id, item.campaign, item.step, item.to_email, item.subject, item.status)
        waits = _next_try(item.next_try_at, item.waiting_reason)
        listed.append([cell(v) for v in (*values, scheduled, item.attempts, reply, waits)])
    title = f"messages ({len(items)})"
    console.print(table(columns, listed, title=title, right=("attempts",)))


def _next_try(at: str | None, reason: str | None) -> str:
    """``2010-04-21 07:00: outside the send window (…)`` (or just the reason)."""
    if reason is None:
        return ""
    return f"{at[:16].replace('T', ' ')}: {reason}" if at else reason


@app.command()
def resolve(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None,
        typer.Argument(metavar="ID…", help="Unknown messages' ids.", show_default=False),
    ] = None,
    sent: Annotated[
        bool, typer.Option("--sent", help="They were delivered: record them sent.")
    ] = False,
    retry: Annotated[
        bool, typer.Option("--retry", help="They were not delivered: send them again (approved).")
    ] = False,
    status: Annotated[
        MessageStatus | None,
        typer.Option(
            "--status",
            help="Instead of ids: every message in this state (only unknown; see --campaign).",
            case_sensitive=False,
        ),
    ] = None,
    campaign: CampaignOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    now: NowOption = None,
) -> None:
    """Resolve messages left `unknown` by a dispatcher that died after DATA: by id, or every
    one (of a campaign) with --status unknown (all or nothing)."""
    from outreach.dispatch.operator_actions import resolve_many

    if sent == retry:
        raise typer.BadParameter("give exactly one of --sent or --retry")
    if ids and status is not None:
        raise typer.BadParameter("give message ids or --status unknown, not both")
    if not ids and status is None:
        raise typer.BadParameter("give message ids, or --status unknown")
    if status is not None and status != MessageStatus.UNKNOWN:
        raise typer.BadParameter("only unknown messages can be resolved: --status unknown")
    if campaign is not None and status is None:
        raise typer.BadParameter("--campaign only goes with --status unknown")
    app_ = app_context(ctx)
    verdict = MessageStatus.SENT if sent else MessageStatus.APPROVED
    if not ids:
        ids = _chosen_unknown(app_, campaign=campaign, verdict=verdict, yes=yes)
        if not ids:
            return
    with app_.session() as session:
        done = resolve_many(
            session,
            ids,
            sent=sent,
            **acting(app_, now),
        )
    if len(done) == 1:
        console.print(f"message {done[0].id} is now {done[0].status}", markup=False)
    else:
        console.print(f"{len(done)} messages are now {verdict.value}", markup=False)


def _chosen_unknown(
    app_: AppContext, *, campaign: str | None, verdict: MessageStatus, yes: bool
) -> list[int]:
    """The ``unknown`` messages (of ``campaign``) once confirmed (``--yes``, or a yes at the
    terminal); [] when there is none. Without a terminal and without ``--yes`` it refuses
    (QueueError); a no at the prompt exits 1 with nothing resolved."""
    from outreach.dispatch.operator_actions import QueueError, unknown_messages

    with app_.session() as session:
        chosen = unknown_messages(session, campaign=campaign)
    if not chosen.ids:
        console.print("no unknown messages", markup=False)
        return []
    action = f"resolve {chosen.describe()} as {verdict.value}"
    refusal = QueueError(f"queue resolve would {action}; add --yes to confirm")
    confirm_many(yes, refusal, f"about to {action}", "resolve")
    return chosen.ids


@app.command()
def cancel(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(metavar="ID…", help="Message ids.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (kept in the audit log).")
    ] = "cancelled by an operator",
    now: NowOption = None,
) -> None:
    """Cancel unsent messages (all or nothing: any sent, sending or missing id refuses all)."""
    from outreach.dispatch.operator_actions import cancel_messages

    app_ = app_context(ctx)
    actor = cli_reviewer(app_).recorded
    with app_.session() as session:
        done = cancel_messages(
            session, ids, now=clock_option(now).now(), actor=actor, reason=reason
        )
    console.print(f"cancelled {len(done)} message(s)", markup=False)
