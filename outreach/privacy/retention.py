"""Retention (GDPR Art. 5(1)(e)): received mail older than ``OUTREACH_INBOUND_RETENTION`` is
reduced to its classification and match (:mod:`outreach.repository.retention` says what stays).

The daemon's ``retention`` job runs it hourly; it is idempotent and works in batches, each its
own transaction. On SQLite the reducing connection overwrites what it frees
(``secure_delete``), and the write-ahead log is checkpointed afterwards.
"""

from __future__ import annotations

from datetime import datetime

from outreach.db import Engine, session_scope
from outreach.privacy.audit import record_privacy_event
from outreach.repository.erasure import checkpoint_sqlite, secure_delete
from outreach.repository.retention import due_for_reduction, reduce_inbound
from outreach.settings import Settings

#: Inbound rows reduced per transaction.
BATCH = 500


def apply_retention(
    engine: Engine,
    *,
    settings: Settings,
    now: datetime,
    actor: str = "retention",
    batch: int = BATCH,
) -> str:
    """Reduce every received message older than the retention at ``now``, ``batch`` rows per
    transaction, with one event saying how many; returns the job's one-line result
    (``skipped: …`` when retention is off)."""
    retention = settings.inbound_retention
    if retention is None:
        return "skipped: OUTREACH_INBOUND_RETENTION is off"
    cutoff = now - retention
    total = 0
    while True:
        with session_scope(engine) as session, secure_delete(session):
            ids = due_for_reduction(session, received_before=cutoff, limit=batch)
            total += reduce_inbound(session, ids=ids, now=now)
        if len(ids) < batch:
            break
    if total:
        with session_scope(engine) as session:
            record_privacy_event(
                session,
                action="retention",
                reason=f"received before {cutoff.isoformat()}",
                data={"reduced": total},
                now=now,
                actor=actor,
            )
        checkpoint_sqlite(engine)
    return f"reduced {total} received message(s) received before {cutoff.isoformat()}"
