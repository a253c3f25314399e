"""The deployment files stay true to the settings: Docker does not run here, so read them."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from outreach.settings import Settings, load_settings

REPO = Path(__file__).resolve().parents[2]
KNOWN = {f"OUTREACH_{name.upper()}" for name in Settings.model_fields} | {"OUTREACH_CONFIG"}


def test_compose_file_parses_and_sets_only_real_settings() -> None:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert {"postgres", "mailpit", "outreach"} <= set(data["services"])
    env = data["services"]["outreach"]["environment"]
    assert env, "the daemon service must be configured by OUTREACH_ variables"
    unknown = sorted(k for k in env if k.startswith("OUTREACH_") and k not in KNOWN)
    assert unknown == []
    # and the values are valid settings, not just known names
    values = {
        k[len("OUTREACH_") :].lower(): str(v) for k, v in env.items() if k != "OUTREACH_CONFIG"
    }
    settings = load_settings(env={}, **values)
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert data["services"]["outreach"]["environment"]["OUTREACH_SMTP_HOST"] == "mailpit"


def test_dockerfile_and_systemd_unit_use_real_settings() -> None:
    for path in (REPO / "Dockerfile", REPO / "config" / "outreach.service"):
        names = set(re.findall(r"OUTREACH_[A-Z_]+", path.read_text()))
        assert names, path
        assert names <= KNOWN, (path, names - KNOWN)
    unit = (REPO / "config" / "outreach.service").read_text()
    assert "ExecStart=" in unit and "outreach daemon" in unit
    assert "KillSignal=SIGTERM" in unit
