"""What ``/metrics`` reports, for the console and for the daemon's own port: the Prometheus
exposition (through prometheus-client) of whole-database counts read at scrape time.

Whether outreach is healthy (``/healthz``) is :mod:`outreach.operations.health`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from outreach.db import UNAVAILABLE, Engine, read_scope
from outreach.models import JobRun
from outreach.repository import metrics as counts
from outreach.repository.jobs import job_runs
from outreach.states import Classification, MessageStatus

#: The content type of :func:`metrics_text`.
METRICS_CONTENT_TYPE = CONTENT_TYPE_LATEST


class _Collector:
    """Reads the counts once per scrape."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        try:
            with read_scope(self.engine) as session:
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
