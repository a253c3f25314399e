"""`outreach status --csv`: the funnel as CSV."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from outreach.funnel import FUNNEL_KEYS, CampaignFunnel
from outreach.spreadsheet import write_csv


def funnel_csv(rows: Sequence[CampaignFunnel]) -> None:
    """One CSV row per campaign: slug, name, state, then every funnel column."""
    columns = ["campaign", "name", "state", *FUNNEL_KEYS]
    write_csv(
        sys.stdout,
        columns,
        ([r.slug, r.name, r.state, *(r.funnel[k] for k in FUNNEL_KEYS)] for r in rows),
    )
