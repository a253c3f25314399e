"""Is outreach healthy? One answer for ``outreach status --check``, ``GET /healthz`` (on the
console and on the daemon's ``OUTREACH_METRICS_PORT``) and the compose healthchecks built on
them: the database answers, its schema is current, and every daemon job the settings schedule
has ended well recently (that judgement is the pure :mod:`outreach.health`; this reads the
job records and the schedule).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from outreach.daemon import job_intervals
from outreach.db import (
    UNAVAILABLE,
    Engine,
    Session,
    current_revision,
    head_revision,
    read_scope,
    reading,
)
from outreach.health import JobSuccess, job_problems
from outreach.models import JobRun
from outreach.repository.jobs import job_runs
from outreach.settings import Settings


def health_problems(session: Session, *, settings: Settings, now: datetime) -> list[str]:
    """One line per daemon job (as ``settings`` schedule them) that has not succeeded for too
    long at ``now``; empty when all is well. (An unreachable database raises before this.)"""
    return _problems(job_runs(session), settings=settings, now=now)


def _problems(runs: list[JobRun], *, settings: Settings, now: datetime) -> list[str]:
    successes = [JobSuccess(r.job, r.instance, r.last_success_at) for r in runs]
    return job_problems(successes, job_intervals(settings), now=now)


@dataclass(frozen=True)
class Health:
    """The ``/healthz`` answer: its HTTP status and JSON body."""

    status_code: int
    body: dict[str, Any]


def healthz(engine: Engine, *, settings: Settings, now: datetime) -> Health:
    """200 when ``status --check`` would exit 0 at ``now``; 503 otherwise, with the same
    problem lines. No detail about the database is given (the endpoint needs no sign-in)."""
    try:
        current = current_revision(reading(engine))
        head = head_revision()
        runs = []
        if current == head:
            with read_scope(engine) as session:
                runs = job_runs(session)
    except UNAVAILABLE:
        return Health(503, {"status": "unavailable", "database": "unreachable"})
    migrations = {"current": current, "head": head, "up_to_date": current == head}
    if current != head:
        problem = f"database schema at {current}, outreach expects {head}: run outreach init"
        body = {"status": "unhealthy", "database": "ok", "migrations": migrations}
        return Health(503, {**body, "problems": [problem]})
    problems = _problems(runs, settings=settings, now=now)
    body = {
        "status": "unhealthy" if problems else "ok",
        "database": "ok",
        "migrations": migrations,
        "jobs": _jobs(runs, job_intervals(settings)),
        "problems": problems,
    }
    return Health(503 if problems else 200, body)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _jobs(runs: list[JobRun], schedule: dict[str, int]) -> dict[str, Any]:
    """Per job (every scheduled one, even before it first ran): its interval, its last success
    over every instance, and its latest run's outcome."""
    out: dict[str, Any] = {}
    for job in sorted({*schedule, *(r.job for r in runs)}):
        mine = [r for r in runs if r.job == job]
        successes = [r.last_success_at for r in mine if r.last_success_at is not None]
        latest = max(mine, key=lambda r: r.started_at, default=None)
        out[job] = {
            "interval_seconds": schedule.get(job),
            "last_success": _iso(max(successes, default=None)),
            "last_outcome": latest.outcome if latest is not None else None,
            "last_started": _iso(latest.started_at) if latest is not None else None,
        }
    return out
