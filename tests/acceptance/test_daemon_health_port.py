"""`outreach daemon` with OUTREACH_METRICS_PORT serves /healthz and /metrics on its own port
(a container healthcheck needs no console), and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx2
from prometheus_client.parser import text_string_to_metric_families

from tests.cli import REPO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_daemon_serves_health_and_metrics(sqlite_db) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OUTREACH_")}
    env.update(
        OUTREACH_DATABASE_URL=sqlite_db.url,
        OUTREACH_METRICS_PORT=str(port),
        OUTREACH_SMTP_HOST="127.0.0.1",
        OUTREACH_SMTP_PORT=str(free_port()),
        OUTREACH_LOG_FORMAT="json",
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "outreach", "daemon"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        body = None
        last = "no answer"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and body is None:
            try:
                answer = httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                body = answer.json() if answer.status_code == 200 else None
                last = f"{answer.status_code} {answer.text[:2000]}"
            except httpx2.TransportError:
                time.sleep(0.2)
        assert body is not None, f"the daemon's health port did not answer 200: {last}"
        assert body["database"] == "ok" and body["migrations"]["up_to_date"] is True
        metrics = httpx2.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
        names = {f.name for f in text_string_to_metric_families(metrics.text)}
        assert {"outreach_up", "outreach_messages", "outreach_inbound"} <= names
        assert httpx2.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
