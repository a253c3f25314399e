"""`outreach replies …`: fetch (IMAP), import (files), list and reclassify replies.

The work is in :mod:`outreach.replies` (:mod:`~outreach.replies.mailbox` for IMAP,
:mod:`~outreach.replies.intake` for files, :mod:`~outreach.replies.listing` for the list,
:mod:`~outreach.replies.reclassify` for corrections); these commands only call it and print.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import SpinnerColumn, TextColumn

from outreach.cli.context import acting, app_context, clock_option
from outreach.cli.options import CampaignOption, CsvOption, JsonOption, NowOption
from outreach.cli.output import console, print_json, stderr_progress, table
from outreach.spreadsheet import write_csv
from outreach.states import Classification

if TYPE_CHECKING:
    from outreach.planner.reinstate import LetterFate
    from outreach.replies.listing import ReplyItem
    from outreach.replies.report import IntakeReport

app = typer.Typer(no_args_is_help=True)


def _print_report(report: IntakeReport, json_: bool) -> None:
    if json_:
        print_json(report.as_dict())
        return
    console.print(str(report), markup=False)
    if report.by_class:
        counts = [(kind, str(count)) for kind, count in sorted(report.by_class.items())]
        title = "new messages by classification"
        console.print(table(("classification", "count"), counts, title=title, right=("count",)))


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
    with stderr_progress(
        SpinnerColumn(), TextColumn("importing replies: {task.completed} messages")
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
    needs_review: Annotated[
        bool,
        typer.Option(
            "--needs-review", help="Only mail flagged for a person (inconclusive bounces)."
        ),
    ] = False,
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", min=1, help="At most this many, newest first.")
    ] = None,
    csv_: CsvOption = False,
) -> None:
    """Who answered which letter, when, how it was classified, and what they wrote."""
    from outreach.json_reports import replies_list
    from outreach.replies.listing import ReplyItem, list_replies

    filters = {
        "campaign": campaign,
        "classification": class_,
        "unmatched": unmatched,
        "needs_review": needs_review,
    }
    with app_context(ctx).session() as session:
        if json_:
            print_json(replies_list(session, **filters, limit=limit))
            return
        items = list_replies(session, **filters, limit=limit)
    if csv_:
        columns = [f.name for f in fields(ReplyItem)]
        write_csv(sys.stdout, columns, ([getattr(i, c) for c in columns] for i in items))
        return
    if not items:
        console.print(
            "no replies"
            + (
                " matching these filters"
                if (campaign or class_ or unmatched or needs_review)
                else ""
            )
        )
        return
    console.print(
        f"{len(items)} repl{'y' if len(items) == 1 else 'ies'}, newest first", markup=False
    )
    for item in items:
        console.print("\n".join(_item_lines(item)), markup=False, highlight=False)


_BOUNCES = frozenset({"bounce_hard", "bounce_soft", "rejected"})


def _item_lines(item: ReplyItem) -> list[str]:
    """How one reply reads in the human listing."""
    who = item.from_addr or "(no sender)"
    if item.contact:
        who = f"{item.contact_name} <{item.contact}>" if item.contact_name else item.contact
    kind = item.classification + (f" {item.bounce_status}" if item.bounce_status else "")
    if item.needs_review:
        kind += " (needs review)"
    where = f"{item.campaign} / {item.step}" if item.campaign else "(unmatched)"
    lines = [f"#{item.id}  {item.received_at:%Y-%m-%d %H:%M} UTC  {kind}  {who}  {where}"]
    if item.matched_subject:
        lines.append(f"    answers: {item.matched_subject}")
    elif item.subject:
        lines.append(f"    subject: {item.subject}")
    text = item.snippet or item.error or item.reason
    if text:
        lines.append(f"    {text}")
    evidence = item.evidence or {}
    if item.classification in _BOUNCES and evidence.get("decided_by"):
        stage = f", at {evidence['stage']}" if evidence.get("stage") else ""
        lines.append(
            f"    evidence ({evidence.get('strength')}{stage}): {evidence['decided_by']}: "
            f"{evidence.get('line') or ''}"
        )
    return lines


@app.command("reclassify")
def reclassify(
    ctx: typer.Context,
    inbound_id: Annotated[int, typer.Argument(metavar="ID", help="The reply's id (replies list).")],
    new_class: Annotated[
        str,
        typer.Argument(
            metavar="CLASS", help="human, auto_reply, bounce_hard, bounce_soft, rejected, …"
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why (recorded with the change).", show_default=False)
    ],
    now: NowOption = None,
    json_: JsonOption = False,
) -> None:
    """Correct a reply's class: the old class's effects are undone (its suppression lifted,
    enrollments put back), the new class's applied, and the letters the old class cancelled
    planned again (back in review) unless something else still stops them; each is listed."""
    from outreach.replies.reclassify import reclassify as reclassify_reply

    app_ = app_context(ctx)
    done = reclassify_reply(
        app_.engine(),
        inbound_id=inbound_id,
        new_class=new_class,
        reason=reason,
        **acting(app_, now),
        settings=app_.settings,
    )
    if json_:
        print_json(asdict(done))
        return
    if done.old_class == done.new_class:
        state = "marked reviewed" if done.changed else "nothing changed"
        console.print(f"#{done.inbound_id}: already {done.new_class}; {state}", markup=False)
        return
    lines = [f"#{done.inbound_id}: {done.old_class} -> {done.new_class}"]
    lines += [f"  suppression lifted: {email}" for email in done.lifted]
    lines += [
        f"  enrollment {r.enrollment_id}: {r.current.value} -> {r.restore_to.value}"
        for r in done.restored
    ]
    lines += [
        f"  still in force: reply #{iid} (stored later; its effects applied again)"
        for iid in done.in_force
    ]
    applied = done.applied
    if applied.suppressed or applied.enrollments or applied.cancelled:
        by = " and ".join([done.new_class, *(f"reply #{iid}" for iid in done.in_force)])
        lines.append(
            f"  {by}: {len(applied.suppressed)} address(es) suppressed, "
            f"{applied.enrollments} enrollment(s) changed, {applied.cancelled} letter(s) cancelled"
        )
    lines += [f"  {note}" for note in done.notes]
    lines += [_letter_line(letter) for letter in done.letters]
    console.print("\n".join(lines), markup=False)


def _letter_line(letter: LetterFate) -> str:
    """One letter the old class had cancelled, and what became of it."""
    where = f"letter {letter.message_id} ({letter.campaign} / {letter.step}, {letter.contact})"
    if letter.status == "cancelled":
        return f"  {where}: stays cancelled: {letter.note}"
    when = f" for {letter.scheduled_for:%Y-%m-%d %H:%M} UTC" if letter.scheduled_for else ""
    note = f": {letter.note}" if letter.note else ""
    return f"  {where}: planned again, {letter.status}{when}{note}"
