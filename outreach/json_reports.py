"""The JSON documents of the lists: ``review list``, ``queue list``, ``replies list`` and
``status`` with ``--json``, and the console's ``/api/…`` — built here once, so both print
exactly the same shapes, and serialised by :func:`dumps` (sorted keys, ISO 8601 times).

Read-only; each function takes the ``session`` of one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any, ParamSpec

from outreach.db import Session
from outreach.dispatch.waits import queue_listing
from outreach.funnel import campaign_funnels, daemon_health, totals
from outreach.replies.listing import list_replies
from outreach.review.views import list_pending

P = ParamSpec("P")


def _as_dicts(listing: Callable[P, Iterable[Any]], doc: str) -> Callable[P, list[dict[str, Any]]]:
    """The JSON document of ``listing``: the same arguments, each item (a dataclass) a dict."""

    def document(*args: P.args, **kwargs: P.kwargs) -> list[dict[str, Any]]:
        return [asdict(item) for item in listing(*args, **kwargs)]

    document.__doc__ = doc
    return document


review_list = _as_dicts(
    list_pending, "``review list --json``: the messages waiting for review, oldest scheduled first."
)
queue_list = _as_dicts(
    queue_listing,
    "``queue list --json``: messages in any state (or one), oldest scheduled first, each with "
    "when dispatch will next try it at ``now`` and why it waits.",
)
replies_list = _as_dicts(
    list_replies,
    "``replies list --json``: stored inbound mail, newest first (with each reply's evidence and "
    "needs-review flag).",
)


def status_report(
    session: Session, *, now: datetime, imap_configured: bool, campaign: str | None = None
) -> dict[str, Any]:
    """``status --json``: the funnel per campaign, the totals, the daemon's last runs, and
    whether replies are fetched (``imap_configured``: the settings name an IMAP server)."""
    rows = campaign_funnels(session, now=now, slug=campaign)
    return {
        "now": now,
        "campaigns": [asdict(r) for r in rows],
        "totals": totals(rows),
        "daemon": daemon_health(session),
        "imap_configured": imap_configured,
    }


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(data: Any) -> str:
    """``data`` as the CLI prints it: sorted keys, ISO 8601 times, indented, one document."""
    return json.dumps(data, default=_default, sort_keys=True, indent=2)
