"""Settings from a TOML file (``OUTREACH_CONFIG`` or a path): read from disk, the environment
wins."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.errors import SettingsError
from outreach.settings import load_settings


def test_env_wins_over_file(tmp_path: Path) -> None:
    cfg = tmp_path / "outreach.toml"
    cfg.write_text('SMTP_HOST = "relay.example.org"\nsmtp_port = 2525\nimap_mailbox = "Replies"\n')
    s = load_settings(cfg, env={"OUTREACH_SMTP_PORT": "587"})
    assert s.smtp_host == "relay.example.org"
    assert s.smtp_port == 587
    assert s.imap_mailbox == "Replies"


def test_config_from_env_variable(tmp_path: Path) -> None:
    cfg = tmp_path / "o.toml"
    cfg.write_text('smtp_tls = "tls"\n')
    assert load_settings(env={"OUTREACH_CONFIG": str(cfg)}).smtp_tls == "tls"


def test_bad_config_file(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text("smtp_host = \n")
    with pytest.raises(SettingsError, match=r"bad\.toml"):
        load_settings(cfg, env={})
    cfg.write_text('smtp_hots = "x"\n')
    with pytest.raises(SettingsError, match="unknown setting 'smtp_hots'"):
        load_settings(cfg, env={})
    with pytest.raises(SettingsError, match="not found"):
        load_settings(tmp_path / "missing.toml", env={})
