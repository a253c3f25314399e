"""`outreach status` and `outreach countdown`: the funnel, milestones with days to go, the
daemon's last runs, and whether replies are fetched. Laid out for the terminal's width (80
columns and up): one campaign a block of wrapped ``name count`` lines, never a table of
fourteen columns."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from outreach.cli.context import app_context, clock_option
from outreach.cli.options import CampaignOption, JsonOption, NowOption
from outreach.cli.output import console, milestone_dates, print_json, table
from outreach.states import CampaignState

if TYPE_CHECKING:
    from outreach.funnel import CampaignFunnel

#: The funnel's columns, grouped as ``status`` prints them: (label, keys).
FUNNEL_GROUPS = (
    ("contacts", ("enrolled", "replied", "bounced", "unsubscribed")),
    (
        "letters",
        (
            "pending_review",
            "render_error",
            "approved",
            "sending",
            "sent",
            "retrying",
            "failed",
            "unknown",
            "rejected",
            "cancelled",
        ),
    ),
)
#: Widest layout, even on a wide terminal (long lines are hard to read).
MAX_WIDTH = 100


def status(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    json_: JsonOption = False,
    now: NowOption = None,
) -> None:
    """The funnel per campaign, milestones with days to go, the daemon's last runs, and
    whether replies are fetched (IMAP)."""
    from outreach.funnel import campaign_funnels, daemon_health, totals

    app = app_context(ctx)
    moment = clock_option(now).now()
    with app.session() as session:
        rows = campaign_funnels(session, now=moment, slug=campaign)
        health = daemon_health(session)
    notice = app.settings.imap_notice
    if json_:
        print_json(
            {
                "now": moment,
                "campaigns": [asdict(r) for r in rows],
                "totals": totals(rows),
                "daemon": health,
                "imap_configured": notice is None,
            }
        )
        return
    width = min(console.width, MAX_WIDTH)
    lines = funnel_lines(rows, width=width) + health_lines(health, width=width)
    if notice is not None:
        lines += ["", *textwrap.wrap(f"replies: {notice}", width, subsequent_indent="  ")]
    for line in lines:
        console.print(line, markup=False, highlight=False)


def funnel_lines(rows: Iterable[CampaignFunnel], *, width: int) -> list[str]:
    """Each campaign as a block of lines at most ``width`` wide: its title, its funnel counts
    in groups (``letters  pending review 38 · sent 0 …``) and its milestones' countdowns."""
    lines: list[str] = []
    for r in rows:
        paused = " [PAUSED]" if r.state == CampaignState.PAUSED else ""
        lines += textwrap.wrap(f"{r.slug} — {r.name}{paused}", width, subsequent_indent="  ")
        for label, keys in FUNNEL_GROUPS:
            lines += _counts_lines(label, r.funnel, keys, width)
        for m in r.milestones:
            text = f"{m['title']}: {m['date']} — {days_text(m['days_until'], m['phase'])}"
            lines += textwrap.wrap(text, width, initial_indent="  ", subsequent_indent="      ")
        lines.append("")
    if not lines:
        lines.append("no campaigns loaded (outreach campaign load config/campaigns)")
    return lines


def _counts_lines(
    label: str, funnel: Mapping[str, int], keys: Iterable[str], width: int
) -> list[str]:
    """``  letters   pending review 38 · approved 0 …``, continued under the first count when
    it does not fit ``width`` (a count is never split, a line never starts with ``·``)."""
    head = f"  {label:<10}"
    lines: list[str] = []
    current = head
    for key in keys:
        part = f"{key.replace('_', ' ')} {funnel.get(key, 0)}"
        if current.strip() == label:
            current += part
        elif len(current) + len(f" · {part} ·") <= width:
            current += f" · {part}"
        else:
            lines.append(current + " ·")
            current = " " * len(head) + part
    lines.append(current)
    return lines


def health_lines(health: Iterable[Mapping[str, Any]], *, width: int) -> list[str]:
    """The daemon's jobs, one line each (wrapped when the detail is long): job, outcome, when
    it last finished (UTC), the instance and what it did."""
    rows = list(health)
    if not rows:
        return []
    lines = ["daemon (last run of each job per instance, UTC)"]
    for h in rows:
        when = _minute(h["finished_at"] or h["started_at"])
        outcome = h["outcome"] or "running"
        text = f"{h['job']:<9}{outcome:<8} {when}  {h['instance']}  {h['detail'] or ''}"
        lines += textwrap.wrap(text.rstrip(), width, initial_indent="  ", subsequent_indent="    ")
    return lines


def _minute(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def days_text(days: int, phase: str) -> str:
    """A milestone's countdown in words: "today", "in progress", "past (3 days ago)" or
    "42 days to go"."""
    if phase == "today":
        return "today"
    if phase == "in_progress":
        return "in progress"
    if phase == "past":
        return f"past ({-days} days ago)"
    return f"{days} days to go"


def countdown(
    ctx: typer.Context,
    campaign: CampaignOption = None,
    json_: JsonOption = False,
    now: NowOption = None,
) -> None:
    """Milestones with days to go ("today", "in progress" for a meeting, "past")."""
    from outreach.funnel import campaign_funnels

    moment = clock_option(now).now()
    with app_context(ctx).session() as session:
        rows = campaign_funnels(session, now=moment, slug=campaign)
    if json_:
        print_json([{"campaign": r.slug, **m} for r in rows for m in r.milestones])
        return
    milestones = [
        (r.slug, m["title"], milestone_dates(m), days_text(m["days_until"], m["phase"]))
        for r in rows
        for m in r.milestones
    ]
    console.print(table(("campaign", "milestone", "date", "days to go"), milestones))


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(countdown)
