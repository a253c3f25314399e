"""What ``/healthz`` and ``/metrics`` report, for the console and for the daemon's own port.

:func:`health` says whether the database answers, whether its schema is current, and when each
daemon job last succeeded; :func:`metrics_text` renders the Prometheus exposition (through
prometheus-client) from whole-database counts read at scrape time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from outreach.db import UNAVAILABLE, Engine, current_revision, head_revision, session_scope
from outreach.models import JobRun
from outreach.repository import metrics as counts
from outreach.repository.jobs import job_runs
from outreach.states import Classification, MessageStatus

#: The content type of :func:`metrics_text`.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST

#: The daemon's jobs, reported even before they first ran.
JOBS = ("plan", "dispatch", "replies", "sweep")


@dataclass(frozen=True)
class Health:
    """The ``/healthz`` answer: its HTTP status and JSON body."""

    status_code: int
    body: dict[str, Any]


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _jobs(runs: list[JobRun]) -> dict[str, Any]:
    """Per job: its last success over every instance, and its latest run's outcome."""
    out: dict[str, Any] = {}
    for job in sorted({*JOBS, *(r.job for r in runs)}):
        mine = [r for r in runs if r.job == job]
        successes = [r.last_success_at for r in mine if r.last_success_at is not None]
        latest = max(mine, key=lambda r: r.started_at, default=None)
        out[job] = {
            "last_success": _iso(max(successes, default=None)),
            "last_outcome": latest.outcome if latest is not None else None,
            "last_started": _iso(latest.started_at) if latest is not None else None,
        }
    return out


def health(engine: Engine) -> Health:
    """200 when the database answers and its schema is current; 503 otherwise (no detail
    about the database is given: the endpoint needs no sign-in)."""
    try:
        current = current_revision(engine)
        with session_scope(engine) as session:
            runs = job_runs(session)
    except UNAVAILABLE:
        return Health(503, {"status": "unavailable", "database": "unreachable"})
    head = head_revision()
    body = {
        "status": "ok" if current == head else "migrations pending",
        "database": "ok",
        "migrations": {"current": current, "head": head, "up_to_date": current == head},
        "jobs": _jobs(runs),
    }
    return Health(200 if current == head else 503, body)


class _Collector:
    """Reads the counts once per scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            with session_scope(self.engine) as session:
                messages = counts.messages_by_status(session)
                attempts = counts.attempts_by_outcome(session)
                inbound = counts.inbound_by_class(session)
                runs = job_runs(session)
        except UNAVAILABLE:
            yield GaugeMetricFamily("outreach_up", "1 when the database answered", value=0)
            return
        yield GaugeMetricFamily("outreach_up", "1 when the database answered", value=1)
        yield _labelled(
            GaugeMetricFamily("outreach_messages", "Messages by status", labels=["status"]),
            {s.value: messages.get(s.value, 0) for s in MessageStatus},
        )
        yield _labelled(
            CounterMetricFamily(
                "outreach_smtp_attempts", "SMTP attempts by outcome", labels=["outcome"]
            ),
            {k: attempts.get(k, 0) for k in sorted({"sent", "retrying", "failed", *attempts})},
        )
        yield _labelled(
            GaugeMetricFamily(
                "outreach_inbound", "Inbound mail by classification", labels=["classification"]
            ),
            {c.value: inbound.get(c.value, 0) for c in Classification},
        )
        yield from _job_metrics(runs)


def _labelled(family: Any, values: dict[str, int]) -> Any:
    for label, value in values.items():
        family.add_metric([label], value)
    return family


def _job_metrics(runs: list[JobRun]) -> Iterator[Metric]:
    duration = GaugeMetricFamily(
        "outreach_job_last_duration_seconds",
        "How long each daemon job's last finished run took",
        labels=["job", "instance"],
    )
    success = GaugeMetricFamily(
        "outreach_job_last_success_timestamp_seconds",
        "When each daemon job last succeeded (Unix time)",
        labels=["job", "instance"],
    )
    for run in runs:
        if run.last_duration is not None:
            duration.add_metric([run.job, run.instance], run.last_duration)
        if run.last_success_at is not None:
            success.add_metric([run.job, run.instance], run.last_success_at.timestamp())
    yield duration
    yield success


def metrics_text(engine: Engine) -> bytes:
    """The Prometheus text exposition of outreach's counts, read now."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(engine))  # type: ignore[arg-type]
    return generate_latest(registry)


#: The content type of :func:`metrics_text`.
