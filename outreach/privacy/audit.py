"""The audit event a privacy operation leaves: one ``privacy`` event per erasure or retention
run, saying what was done and how much — never whose data it was."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from outreach.db import Session
from outreach.lifecycle import record_event


def record_privacy_event(
    session: Session,
    *,
    action: str,
    reason: str,
    data: Mapping[str, Any],
    now: datetime,
    actor: str,
) -> None:
    """Record the ``privacy`` event ``action`` (it is about no one row: entity id 0)."""
    record_event(
        session,
        now=now,
        actor=actor,
        entity="privacy",
        entity_id=0,
        action=action,
        reason=reason,
        data=data,
    )
