"""``/healthz`` and ``/metrics``: the database, its migrations, the daemon's jobs (judged as
``status --check`` judges them), and Prometheus counts that prometheus-client's own parser
reads back."""

from __future__ import annotations

import shutil
from datetime import timedelta

from prometheus_client.parser import text_string_to_metric_families

from outreach.db import create_engine, head_revision, migrate, session_scope
from outreach.repository.jobs import record_job_run
from tests.factories import T0
from tests.web_kit import client, console, record_successes, seed_pending


def test_healthz_reports_database_migrations_and_jobs(db) -> None:
    with session_scope(db.engine) as s:
        record_job_run(
            s,
            job="plan",
            instance="h1",
            started_at=T0,
            finished_at=None,
            outcome="running",
            detail=None,
        )
        record_job_run(
            s, job="plan", instance="h1", started_at=T0, finished_at=T0 + timedelta(seconds=3),
            outcome="ok", detail="queued 2",
        )  # fmt: skip
    record_successes(db.engine, db.url, skip=("plan", "dispatch"))
    http = client(console(db.engine, db.url))
    answer = http.get("/healthz")
    assert answer.status_code == 503  # dispatch never ran: as `status --check` says
    body = answer.json()
    assert body["status"] == "unhealthy" and body["database"] == "ok"
    assert body["migrations"] == {
        "current": head_revision(),
        "head": head_revision(),
        "up_to_date": True,
    }
    assert body["jobs"]["plan"]["last_success"] == (T0 + timedelta(seconds=3)).isoformat()
    assert body["jobs"]["dispatch"]["last_success"] is None
    assert body["problems"] == ["daemon job dispatch: no run has succeeded yet"]

    record_successes(db.engine, db.url)
    healthy = http.get("/healthz")
    assert healthy.status_code == 200
    assert healthy.json()["status"] == "ok" and healthy.json()["problems"] == []


def test_metrics_parse_with_prometheus_client(db) -> None:
    seed_pending(db.engine, 2)
    with session_scope(db.engine) as s:
        record_job_run(
            s, job="dispatch", instance="h1", started_at=T0, finished_at=T0 + timedelta(seconds=2),
            outcome="ok", detail=None,
        )  # fmt: skip
    answer = client(console(db.engine, db.url)).get("/metrics")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    assert families["outreach_up"].samples[0].value == 1
    messages = {s.labels["status"]: s.value for s in families["outreach_messages"].samples}
    assert messages["pending_review"] == 2 and messages["sent"] == 0
    assert {s.labels["outcome"] for s in families["outreach_smtp_attempts"].samples} >= {
        "sent",
        "retrying",
        "failed",
    }
    assert "human" in {s.labels["classification"] for s in families["outreach_inbound"].samples}
    (duration,) = families["outreach_job_last_duration_seconds"].samples
    assert duration.value == 2 and duration.labels == {"job": "dispatch", "instance": "h1"}
    (success,) = families["outreach_job_last_success_timestamp_seconds"].samples
    assert success.value == (T0 + timedelta(seconds=2)).timestamp()


def test_healthz_503_when_the_database_is_gone(tmp_path) -> None:
    folder = tmp_path / "db"
    folder.mkdir()
    url = f"sqlite:///{folder / 'outreach.db'}"
    engine = create_engine(url)
    migrate(engine)
    record_successes(engine, url)
    http = client(console(engine, url))
    assert http.get("/healthz").status_code == 200
    engine.dispose()
    shutil.rmtree(folder)
    gone = http.get("/healthz")
    assert gone.status_code == 503
    assert gone.json() == {"status": "unavailable", "database": "unreachable"}
    metrics = http.get("/metrics")
    assert metrics.status_code == 200 and "outreach_up 0.0" in metrics.text
