"""Settings from the environment and keyword values (outreach.settings): defaults, types,
one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from outreach.errors import SettingsError
from outreach.settings import load_settings


def test_defaults() -> None:
    s = load_settings(env={})
    assert s.database_url == "sqlite:///outreach.db"
    assert s.smtp_tls == "starttls"
    assert s.templates_dir == Path("templates")
    assert s.campaigns_dir == Path("config/campaigns")


def test_secrets_never_print() -> None:
    s = load_settings(
        env={
            "OUTREACH_SMTP_PASSWORD": "hunter2",
            "OUTREACH_IMAP_PASSWORD": "s3cret",
            "OUTREACH_DATABASE_URL": "postgresql+psycopg://u:dbpass@127.0.0.1/x",
        }
    )
    assert s.smtp_password is not None and s.smtp_password.get_secret_value() == "hunter2"
    shown = repr(s) + str(s) + str(s.redacted())
    for secret in ("hunter2", "s3cret", "dbpass"):
        assert secret not in str(s.redacted())
    assert "hunter2" not in shown and "s3cret" not in shown


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"OUTREACH_SMTP_TLS": "sometimes"}, "OUTREACH_SMTP_TLS"),
        ({"OUTREACH_DATABASE_URL": "not a url"}, "OUTREACH_DATABASE_URL"),
        ({"OUTREACH_DATABASE_URL": "mysql://h/db"}, "unsupported database"),
        ({"OUTREACH_SMTP_PORT": "70000"}, "OUTREACH_SMTP_PORT"),
        ({"OUTREACH_UNSUBSCRIBE_URL": "http://x.example.org/u"}, "https"),
        ({"OUTREACH_SMTP_CONCURRENCY": "zero"}, "OUTREACH_SMTP_CONCURRENCY"),
    ],
)
def test_bad_values_are_one_clear_line(env: dict[str, str], needle: str) -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env=env)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_password_value_is_not_echoed() -> None:
    with pytest.raises(SettingsError) as info:
        load_settings(env={"OUTREACH_SMTP_PASSWORD": "x", "OUTREACH_SMTP_PORT": "-1"})
    assert "'x'" not in str(info.value)


def test_retry_lifetime_forms() -> None:
    from datetime import timedelta

    assert load_settings(env={}).retry_lifetime == timedelta(days=3)
    assert load_settings(env={"OUTREACH_RETRY_LIFETIME": "P2D"}).retry_lifetime == timedelta(days=2)
    assert load_settings(env={"OUTREACH_RETRY_LIFETIME": "3600"}).retry_lifetime == timedelta(
        hours=1
    )
    with pytest.raises(SettingsError, match="OUTREACH_RETRY_LIFETIME"):
        load_settings(env={"OUTREACH_RETRY_LIFETIME": "-5"})
