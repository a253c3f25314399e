"""Reply intake: one code path from raw bytes to stored, matched, classified mail and its effects.

Every source ends up in :func:`~outreach.replies.store.ingest`: IMAP
(:func:`~outreach.replies.mailbox.fetch_mailbox`), and ``.eml``, ``.mbox`` and Maildir files
(:func:`import_paths`). The pipeline, one module per step:

1. :mod:`~outreach.replies.prepare` — parse (:func:`~outreach.replies.parse.parse_inbound`,
   size-capped, never raises), classify (:mod:`~outreach.replies.classify`) and build the
   match keys (:mod:`~outreach.replies.lookup`), outside any transaction (pure);
2. :mod:`~outreach.replies.store` — per batch, in ONE transaction: drop duplicates (same raw
   bytes, or a Message-ID already stored), match (:mod:`~outreach.replies.match`), store every
   message with an ``event`` row, and apply DESIGN.md rule 4: the table is
   :mod:`~outreach.replies.effects` (pure), carried out by
   :mod:`~outreach.replies.apply_effects` through :mod:`outreach.lifecycle`;
3. :mod:`~outreach.replies.report` — the :class:`IntakeReport` of a run;
   :mod:`~outreach.replies.listing` — ``outreach replies list``.

The SQL is in :mod:`outreach.repository.inbound`. This module keeps the entry points together
(the CLI, the daemon, the demo and the benchmarks import them from here).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from outreach.db import Engine
from outreach.replies.listing import ReplyItem, list_replies
from outreach.replies.mailbox import ImapNotConfigured, fetch_mailbox, imap_config, mailbox_key
from outreach.replies.report import IntakeReport
from outreach.replies.sources import iter_files
from outreach.replies.store import ACTOR, SNIPPET_CHARS, ingest
from outreach.settings import Settings

__all__ = [
    "ACTOR",
    "SNIPPET_CHARS",
    "ImapNotConfigured",
    "IntakeReport",
    "ReplyItem",
    "fetch_mailbox",
    "imap_config",
    "import_paths",
    "ingest",
    "list_replies",
    "mailbox_key",
]


def import_paths(
    engine: Engine,
    paths: Sequence[Path | str],
    *,
    settings: Settings,
    now: datetime,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> IntakeReport:
    """Ingest every message in ``.eml`` files, ``.mbox`` files and Maildir folders.

    Every path is checked first (:class:`~outreach.errors.IntakeError` naming a bad one, and
    nothing is stored). Files are only read: nothing is moved, renamed or flagged.
    """
    items = iter_files([Path(p) for p in paths])
    report = ingest(engine, items, settings=settings, now=now, batch=batch, progress=progress)
    return replace(report, source=f"{len(paths)} path{'s' if len(paths) != 1 else ''}")
