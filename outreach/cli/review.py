"""`outreach review …` commands: thin wrappers over :mod:`outreach.review`."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from outreach.attachments.listing import AttachmentInfo
from outreach.cli.confirm import confirm_many
from outreach.cli.context import AppContext, acting, app_context, cli_reviewer, clock_option
from outreach.cli.options import CampaignOption, JsonOption, NowOption
from outreach.cli.output import cell, console, print_json, table
from outreach.errors import ReviewError
from outreach.identity import Reviewer
from outreach.review import actions, views
from outreach.review.editfile import EditableContent, format_editable, parse_editable

app = typer.Typer(no_args_is_help=True)

ReviewerOption = Annotated[
    str | None,
    typer.Option(
        "--reviewer",
        help=(
            "Act as this account (it must exist and be active; recorded as "
            "'NAME via cli by LOGIN'). Default: $OUTREACH_REVIEWER, else your login."
        ),
        show_default=False,
    ),
]


@app.command("list")
def list_(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    step: Annotated[str | None, typer.Option("--step", help="Only this step (its key).")] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Only letters in this language (e.g. fr).")
    ] = None,
    json_: JsonOption = False,
) -> None:
    """Messages waiting for review, oldest scheduled first."""
    from outreach.json_reports import review_list

    app_ = app_context(ctx)
    with app_.session() as session:
        if json_:
            print_json(review_list(session, campaign=campaign, step=step, language=language))
            return
        items = views.list_pending(session, campaign=campaign, step=step, language=language)
    if not items:
        console.print("no messages waiting for review")
        return
    columns = ("id", "campaign", "step", "to", "subject", "scheduled", "recipient's time")
    columns += ("approvals", "note")
    listed = []
    for item in items:
        to = f"{item.to_name} <{item.to_email}>" if item.to_name else item.to_email
        approvals = f"{len(item.approvals)}/{item.approvals_required}"
        if item.approvals:
            approvals += " (" + ", ".join(item.approvals) + ")"
        marks = []
        if item.stale:
            marks.append(f"STALE: {item.stale_reason}")
        if item.edited:
            marks.append("edited")
        listed.append(
            [
                cell(item.id),
                cell(item.campaign),
                cell(item.step),
                cell(to),
                cell(item.subject),
                cell(f"{_short(item.scheduled_for_campaign)} {item.campaign_timezone}"),
                cell(f"{_short(item.scheduled_for_recipient)} {item.recipient_timezone}"),
                cell(approvals),
                Text("; ".join(marks), style="bold red" if item.stale else ""),
            ]
        )
    console.print(table(columns, listed, title=f"waiting for review ({len(items)})"))


def _short(iso: str) -> str:
    """``2010-04-23T09:00:00+02:00`` → ``2010-04-23 09:00``."""
    return iso[:16].replace("T", " ")


@app.command()
def show(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID")],
    save_attachments: Annotated[
        Path | None,
        typer.Option(
            "--save-attachments",
            metavar="DIR",
            help="Also write the message's attachments into DIR (created if needed).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="With --save-attachments: replace existing files.")
    ] = False,
) -> None:
    """The message as it will leave: headers, text, HTML as text, attachments (name, type,
    size, SHA-256), template, countdown values and history."""
    from outreach.review.files import save_attachments as save

    app_ = app_context(ctx)
    with app_.session() as session:
        detail = views.show(session, message_id)
        written = (
            save(session, message_id, save_attachments, force=force) if save_attachments else []
        )

    def out(text: str = "", **kw: object) -> None:
        console.print(text, markup=False, **kw)  # type: ignore[arg-type]

    _print_head(out, detail)
    out("--- text ---", style="bold")
    out(detail.text.rstrip("\n"))
    if detail.html_text is not None:
        out()
        out("--- html (as text) ---", style="bold")
        out(detail.html_text)
    _print_attachments(out, detail.attachments, written)
    out()
    out("--- rendered from ---", style="bold")
    out(f"template: {detail.template or '-'}   language: {detail.language or '-'}")
    out(f"rendered for: {detail.rendered_for or '-'}   scheduled: {detail.scheduled_for_utc}")
    if detail.render_context:
        out(
            "countdown values: "
            + json.dumps(detail.render_context, sort_keys=True, ensure_ascii=False, default=str)
        )
    out(f"content hash: {detail.content_hash or '-'}  ({detail.raw_size} bytes)")
    approvals = ", ".join(detail.approvals) or "none"
    out(f"approvals: {len(detail.approvals)}/{detail.approvals_required} ({approvals})")
    _print_history(out, detail.history)


def _print_head(out: Callable[..., None], detail: views.ReviewDetail) -> None:
    """The title line, the stale warning and the headers of ``review show``."""
    out(
        f"message {detail.id} — {detail.campaign} / {detail.step} — {detail.status}"
        + (" — edited" if detail.edited else ""),
        style="bold",
    )
    if detail.stale_reason:
        out(f"STALE: {detail.stale_reason}", style="bold red")
    out()
    for name, value in detail.headers:
        out(f"{name}: {value}")
    if not detail.headers:
        out("(no composed bytes: nothing will be sent as is)")
    out()


def _print_attachments(
    out: Callable[..., None], attachments: Sequence[AttachmentInfo], written: Sequence[Path]
) -> None:
    """The attachments section of ``review show``, and the files it saved."""
    if attachments:
        out()
        out(f"--- attachments ({len(attachments)}) ---", style="bold")
        for att in attachments:
            out(f"{att.filename}  {att.content_type}  {att.size:,} bytes  sha256 {att.sha256}")
    for path in written:
        out(f"saved {path}")


def _print_history(out: Callable[..., None], history: Sequence[views.HistoryEntry]) -> None:
    """The history section of ``review show``: one line per event, edits with their diff."""
    out()
    out("--- history ---", style="bold")
    for event in history:
        move = (
            f"{event.from_state or '(new)'} → {event.to_state}"
            if event.to_state is not None
            else ""
        )
        line = f"{event.at.isoformat()}  {event.actor}  {event.action}  {move}".rstrip()
        if event.reason:
            line += f"  — {event.reason}"
        out(line)
        diff = event.data.get("diff") if isinstance(event.data, dict) else None
        if diff:
            for diff_line in str(diff).rstrip("\n").splitlines():
                out(f"    {diff_line}")


def _chosen_for_all(
    app_: AppContext, *, campaign: str | None, reviewer: Reviewer, yes: bool
) -> list[int]:
    """The messages ``approve --all`` would approve, once confirmed (``--yes``, or a yes at
    the terminal); [] when there is none. Without a terminal and without ``--yes`` it refuses
    (ReviewError); a no at the prompt exits 1 with nothing approved."""
    with app_.session() as session:
        chosen = views.pending_ids(session, campaign=campaign, reviewer=reviewer.name)
        counts = views.count_pending_by_campaign(session, ids=chosen)
    if not chosen:
        console.print("no messages waiting for your review", markup=False)
        return []
    summary = f"{len(chosen)} message(s) in " + ", ".join(
        f"{slug} ({n})" for slug, n in counts.items()
    )
    refusal = ReviewError(f"approve --all would approve {summary}; add --yes to confirm")
    confirm_many(yes, refusal, f"about to approve {summary} as {reviewer.recorded}", "approve")
    return chosen


@app.command()
def approve(
    ctx: typer.Context,
    ids: Annotated[
        list[int] | None, typer.Argument(metavar="ID…", help="Message ids.", show_default=False)
    ] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every message waiting for review (see --campaign).")
    ] = False,
    campaign: CampaignOption = None,
    reviewer: ReviewerOption = None,
    note: Annotated[
        str | None, typer.Option("--note", help="A note kept with the approval.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    now: NowOption = None,
) -> None:
    """Approve messages (all or nothing). With approvals_required = 2, two different
    reviewers must approve."""
    if ids and all_:
        raise typer.BadParameter("give message ids or --all, not both")
    if not ids and not all_:
        raise typer.BadParameter("give message ids, or --all")
    if campaign and not all_:
        raise typer.BadParameter("--campaign only goes with --all")
    app_ = app_context(ctx)
    who = cli_reviewer(app_, reviewer)
    moment = clock_option(now).now()
    if all_:
        ids = _chosen_for_all(app_, campaign=campaign, reviewer=who, yes=yes)
        if not ids:
            return
    assert ids is not None
    with app_.session() as session:
        results = actions.approve(session, ids, reviewer=who, note=note, now=moment)
    for r in results:
        if r.approved:
            console.print(f"message {r.id} approved ({', '.join(r.approvals)})", markup=False)
        else:
            console.print(
                f"message {r.id}: approval {len(r.approvals)} of {r.approvals_required} "
                f"recorded ({', '.join(r.approvals)}); still pending review",
                markup=False,
            )


@app.command()
def reject(
    ctx: typer.Context,
    ids: Annotated[list[int], typer.Argument(metavar="ID…", help="Message ids.")],
    reason: Annotated[str, typer.Option("--reason", help="Why (required; kept in the log).")],
    reviewer: ReviewerOption = None,
    now: NowOption = None,
) -> None:
    """Reject messages (all or nothing): they become rejected and are never sent."""
    app_ = app_context(ctx)
    who = cli_reviewer(app_, reviewer)
    moment = clock_option(now).now()
    with app_.session() as session:
        results = actions.reject(session, ids, reviewer=who, reason=reason, now=moment)
    for r in results:
        console.print(f"message {r.id} rejected", markup=False)


# --------------------------------------------------------------------------- edit


def run_editor(path: Path) -> None:
    """Run ``$VISUAL``, else ``$EDITOR`` (default ``vi``), on ``path`` and wait for it."""
    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    try:
        argv = [*shlex.split(editor), str(path)]
    except ValueError as exc:
        raise ReviewError(f"editor {editor!r}: {exc}") from None
    try:
        result = subprocess.run(argv, check=False)
    except OSError as exc:
        raise ReviewError(f"cannot run editor {editor!r}: {exc.strerror or exc}") from None
    if result.returncode != 0:
        raise ReviewError(f"editor {editor!r} exited with status {result.returncode}; no change")


def _edit_in_editor(message_id: int, original: EditableContent) -> EditableContent:
    """Open ``$VISUAL`` (else ``$EDITOR``) on the file for ``original`` and read the reviewer's version back."""
    with tempfile.TemporaryDirectory(prefix="outreach-edit-") as tmp:
        path = Path(tmp) / f"message-{message_id}.txt"
        path.write_text(format_editable(original), encoding="utf-8")
        run_editor(path)
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ReviewError(f"cannot read the edited file back: {exc}") from None
    return parse_editable(source, original)


@app.command()
def edit(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID")],
    reviewer: ReviewerOption = None,
    now: NowOption = None,
) -> None:
    """Open $VISUAL or $EDITOR on the subject and text (and HTML); a change keeps the message pending
    review with earlier approvals cleared and the edit logged."""
    from outreach.planner.letters import recomposer

    app_ = app_context(ctx)
    who = cli_reviewer(app_, reviewer)
    with app_.session() as session:
        original = views.editable(session, message_id)
    changed = _edit_in_editor(message_id, original)
    if changed == original:
        console.print("no change", markup=False)
        return
    with app_.session() as session:
        result = actions.edit(
            session,
            message_id,
            subject=changed.subject,
            text=changed.text,
            html=changed.html,
            reviewer=who,
            now=clock_option(now).now(),
            recompose=recomposer(app_.settings),
        )
    if not result.changed:
        console.print("no change", markup=False)
        return
    console.print(result.diff.rstrip("\n"), markup=False)
    cleared = ", ".join(result.cleared_approvals)
    console.print(
        f"message {message_id} edited; pending review again"
        + (f"; approvals cleared ({cleared})" if cleared else ""),
        markup=False,
    )


# --------------------------------------------------------------------------- test send


@app.command("test-send")
def test_send(
    ctx: typer.Context,
    message_id: Annotated[int, typer.Argument(metavar="ID")],
    to: Annotated[
        str, typer.Option("--to", metavar="ADDRESS", help="Where the test copy goes (required).")
    ],
    now: NowOption = None,
) -> None:
    """Send the message's exact stored bytes to ADDRESS (the envelope recipient; headers
    unchanged) to see it land in a real mailbox. Changes no status, never counts as sent;
    recorded in the history; limited per message per hour (OUTREACH_TEST_SEND_PER_HOUR)."""
    from outreach.review import testsend

    app_ = app_context(ctx)
    result = testsend.test_send(
        app_.engine(),
        message_id,
        to=to,
        settings=app_.settings,
        **acting(app_, now),
    )
    what = f"message {result.message_id} ({result.size:,} bytes, sha256 {result.sha256[:12]}…)"
    reply = f"{result.code} {result.reply}" if result.code else result.reply
    if not result.delivered:
        raise ReviewError(f"test copy of {what} to {result.to} was not accepted: {reply}")
    console.print(f"test copy of {what} sent to {result.to}: {reply}", markup=False)


test_send.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
