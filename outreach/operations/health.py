"""``outreach status --check``: is the daemon doing its work? (the judgement is
:mod:`outreach.health`; this reads the job records and the schedule)."""

from __future__ import annotations

from datetime import datetime

from outreach.daemon import job_intervals
from outreach.db import Session
from outreach.health import JobSuccess, job_problems
from outreach.repository.jobs import job_runs
from outreach.settings import Settings


def health_problems(session: Session, *, settings: Settings, now: datetime) -> list[str]:
    """One line per daemon job (as ``settings`` schedule them) that has not succeeded for too
    long at ``now``; empty when all is well. (An unreachable database raises before this.)"""
    runs = [JobSuccess(r.job, r.instance, r.last_success_at) for r in job_runs(session)]
    return job_problems(runs, job_intervals(settings), now=now)
