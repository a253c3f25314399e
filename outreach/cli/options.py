"""The options several commands share, declared once: ``--now``, ``--json``, ``--campaign``."""

from __future__ import annotations

from typing import Annotated

import typer

NowOption = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Pretend it is this moment (ISO 8601, e.g. 2010-04-20T12:00Z); default: the real clock.",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
CampaignOption = Annotated[
    str | None, typer.Option("--campaign", "-c", help="Only this campaign (its slug).")
]
