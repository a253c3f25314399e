"""Is the daemon doing its work? The judgement behind ``outreach status --check`` and
``GET /healthz`` (pure; :mod:`outreach.operations.health` reads what it judges).

A job is healthy when some daemon instance ended a run of it well (``ok`` or ``skipped``:
another daemon held the lock) recently enough: within three of its intervals, and never less
than :data:`MIN_OVERDUE`, so that a slow planning pass or a restart is not an alarm.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

#: The least time without a success that counts as overdue.
MIN_OVERDUE = timedelta(minutes=10)
#: How many intervals a job may go without a success.
INTERVALS_ALLOWED = 3


@dataclass(frozen=True)
class JobSuccess:
    """When one instance last ended a run of ``job`` well (None: never)."""

    job: str
    instance: str
    last_success_at: datetime | None


def overdue_after(interval_seconds: int) -> timedelta:
    """How long a job scheduled every ``interval_seconds`` may go without a success."""
    return max(timedelta(seconds=INTERVALS_ALLOWED * interval_seconds), MIN_OVERDUE)


def job_problems(
    runs: Iterable[JobSuccess], schedule: Mapping[str, int], *, now: datetime
) -> list[str]:
    """One line per scheduled job (``schedule``: job → interval in seconds) that no instance
    ended well within :func:`overdue_after` its interval, by job name; empty when all is well."""
    latest: dict[str, datetime] = {}
    for run in runs:
        if run.last_success_at is not None and (
            run.job not in latest or run.last_success_at > latest[run.job]
        ):
            latest[run.job] = run.last_success_at
    problems = []
    for job, interval in sorted(schedule.items()):
        last = latest.get(job)
        if last is None:
            problems.append(f"daemon job {job}: no run has succeeded yet")
            continue
        age = now - last
        if age > overdue_after(interval):
            problems.append(
                f"daemon job {job}: last succeeded {_minutes(age)} ago at {last.isoformat()} "
                f"(runs every {interval} s; overdue after {_minutes(overdue_after(interval))})"
            )
    return problems


def _minutes(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    return f"{minutes} min" if minutes < 120 else f"{minutes // 60} h"
