"""The compose file runs the console next to the daemon, both configured by real settings and
checked through /healthz (Docker does not run here, so read the files)."""

from __future__ import annotations

from pathlib import Path

import yaml

from outreach.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
KNOWN = {f"OUTREACH_{name.upper()}" for name in Settings.model_fields} | {"OUTREACH_CONFIG"}


def test_compose_runs_the_console_with_real_settings() -> None:
    services = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]
    console = services["console"]
    assert console["command"] == ["web"]
    env = console["environment"]
    assert set(env) <= KNOWN
    settings = load_settings(
        env={}, **{k[len("OUTREACH_") :].lower(): str(v) for k, v in env.items()}
    )
    assert settings.web_host == "0.0.0.0" and settings.web_port == 8080
    assert f":{settings.web_port}/healthz" in " ".join(console["healthcheck"]["test"])
    assert any(str(p).endswith(f":{settings.web_port}") for p in console["ports"])


def test_the_daemon_serves_its_health_port() -> None:
    daemon = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["outreach"]
    port = daemon["environment"]["OUTREACH_METRICS_PORT"]
    assert f":{port}/healthz" in " ".join(daemon["healthcheck"]["test"])
    assert "EXPOSE 8080" in (REPO / "Dockerfile").read_text()
