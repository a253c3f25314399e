"""Confirming a change to many rows before a command makes it: ``--yes``, or a yes at the
terminal; without a terminal and without ``--yes`` the command refuses."""

from __future__ import annotations

import sys

import typer

from outreach.cli.output import console
from outreach.errors import OutreachError


def confirm_many(yes: bool, refusal: OutreachError, about: str, verb: str) -> None:
    """Go on when ``yes`` (``--yes``) or when the person at the terminal, told ``about``, says
    yes to "``verb`` them?". Without a terminal raise ``refusal``; a no prints "nothing
    ``verb``-d" and exits 1."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise refusal
    console.print(about, markup=False)
    if not typer.confirm(f"{verb} them?", default=False):
        console.print(f"nothing {verb}d", markup=False)
        raise typer.Exit(code=1)
