"""`outreach status --check | --csv`: the health check for container and service managers,
and the funnel as CSV."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime

import typer

from outreach.cli.context import AppContext
from outreach.cli.output import console, err_console
from outreach.funnel import FUNNEL_KEYS, CampaignFunnel
from outreach.spreadsheet import write_csv


def check(app: AppContext, *, now: datetime) -> None:
    """Print ``ok`` (exit 0), or one line per problem on stderr (exit 1). A database that
    cannot be reached, or whose schema is not current, fails before this (exit 1)."""
    from outreach.operations.health import health_problems

    with app.session() as session:
        problems = health_problems(session, settings=app.settings, now=now)
    if problems:
        for line in problems:
            err_console.print(f"unhealthy: {line}", markup=False)
        raise typer.Exit(1)
    console.print("ok: database reachable, schema current, every daemon job succeeding")


def funnel_csv(rows: Sequence[CampaignFunnel]) -> None:
    """One CSV row per campaign: slug, name, state, then every funnel column."""
    columns = ["campaign", "name", "state", *FUNNEL_KEYS]
    write_csv(
        sys.stdout,
        columns,
        ([r.slug, r.name, r.state, *(r.funnel[k] for k in FUNNEL_KEYS)] for r in rows),
    )
