"""Settings: ``OUTREACH_*`` environment variables, optionally a TOML file (env wins).

Built once at the entry point (:func:`load_settings`) and passed down; never a global.
Secrets are :class:`pydantic.SecretStr`, so they print as ``**********``.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from outreach.errors import SettingsError

#: How a connection to the SMTP or IMAP server is secured.
TlsMode = Literal["starttls", "tls", "none"]

#: ``OUTREACH_*`` variables that are not settings but are read elsewhere (the config file's
#: path); names under ``OUTREACH_TEST_`` belong to the test suite.
NOT_SETTINGS = frozenset({"OUTREACH_CONFIG"})


class Settings(BaseSettings):
    """Everything an operator can configure. See README §Configuration."""

    model_config = SettingsConfigDict(
        env_prefix="OUTREACH_", extra="ignore", case_sensitive=False, frozen=True
    )

    database_url: str = "sqlite:///outreach.db"

    smtp_host: str = "localhost"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: TlsMode = "starttls"
    smtp_ca_file: Path | None = None
    smtp_verify: bool = True
    smtp_allow_plain_auth: bool = False
    smtp_timeout: float = Field(default=60.0, gt=0)
    smtp_concurrency: int = Field(default=4, ge=1, le=256)
    smtp_rate_per_minute: int | None = Field(default=None, ge=1)

    imap_host: str | None = None
    imap_port: int = Field(default=993, ge=1, le=65535)
    imap_username: str | None = None
    imap_password: SecretStr | None = None
    imap_tls: TlsMode = "tls"
    imap_ca_file: Path | None = None
    imap_mailbox: str = "INBOX"

    templates_dir: Path = Path("templates")
    campaigns_dir: Path = Path("config/campaigns")

    unsubscribe_url: str | None = None
    message_id_domain: str | None = None
    retry_lifetime: timedelta = Field(
        default=timedelta(days=3),
        description="how long 4xx/network failures are retried: seconds or ISO 8601 (P3D, PT12H)",
    )
    lease_seconds: int = Field(default=300, ge=10)
    dispatch_batch: int = Field(default=200, ge=1)
    inbound_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    max_message_bytes: int = Field(
        default=10 * 1024 * 1024,
        ge=1024,
        description="a letter composed larger than this (attachments included) is refused at plan",
    )
    max_attachment_bytes: int = Field(
        default=5 * 1024 * 1024,
        ge=1,
        description="a file a campaign attaches may weigh this much; larger refuses the campaign",
    )
    test_send_per_hour: int = Field(
        default=5, ge=1, description="test sends of one message allowed per hour"
    )

    plan_interval: int = Field(default=300, ge=1, description="seconds")
    dispatch_interval: int = Field(default=15, ge=1, description="seconds")
    imap_interval: int = Field(default=120, ge=1, description="seconds")
    shutdown_grace: int = Field(default=20, ge=1, description="seconds")

    reviewer: str | None = None
    log_format: Literal["auto", "json", "text"] = "auto"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("database_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        from outreach.db import database_url_problem

        problem = database_url_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @field_validator("retry_lifetime", mode="before")
    @classmethod
    def _seconds(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        return value

    @field_validator("retry_lifetime")
    @classmethod
    def _check_lifetime(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be positive")
        return value

    @field_validator("unsubscribe_url")
    @classmethod
    def _check_unsub(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("must be an https:// URL")
        return value

    @property
    def sqlalchemy_url(self) -> str:
        """The URL with the psycopg driver made explicit for PostgreSQL."""
        scheme, sep, rest = self.database_url.partition("://")
        if sep and scheme in ("postgres", "postgresql"):
            return f"postgresql+psycopg://{rest}"
        return self.database_url

    @property
    def imap_configured(self) -> bool:
        return bool(self.imap_host and self.imap_username)

    @property
    def imap_notice(self) -> str | None:
        """What an operator must know when replies are not fetched (``None`` when IMAP is
        configured): ``status`` and the daemon's start-up log say it."""
        if self.imap_configured:
            return None
        return (
            "IMAP is not configured (OUTREACH_IMAP_HOST, OUTREACH_IMAP_USERNAME): replies are "
            "not fetched, so stop-on-reply is off unless you import replies yourself "
            "(outreach replies import)"
        )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict safe to print or log (secrets and URL passwords masked)."""
        from outreach.db import redacted_url

        data = self.model_dump(mode="json")
        for key in ("smtp_password", "imap_password"):
            if data.get(key):
                data[key] = "**********"
        data["database_url"] = redacted_url(self.database_url)
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # init kwargs carry (in order of priority) overrides, OUTREACH_* env, the TOML file:
        # load_settings merges them so that the environment it reads can be injected.
        return (init_settings,)


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except FileNotFoundError:
        raise SettingsError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: {exc}") from None
    data: dict[str, Any] = {}
    known = set(Settings.model_fields)
    for key, value in raw.items():
        name = key.lower().removeprefix("outreach_")
        if name not in known:
            raise SettingsError(f"{path}: unknown setting {key!r}")
        data[name] = value
    return data


def unknown_variables(env: Mapping[str, str] | None = None) -> list[str]:
    """One warning line per ``OUTREACH_*`` variable in ``env`` (default ``os.environ``) that is
    not a setting, naming the closest known one when there is one (a misspelt variable is
    otherwise silently ignored, while an unknown key in the TOML file is refused)."""
    environ = os.environ if env is None else env
    known = [f"OUTREACH_{name.upper()}" for name in Settings.model_fields]
    lines = []
    for key in sorted(environ):
        upper = key.upper()
        if not upper.startswith("OUTREACH_") or upper in NOT_SETTINGS:
            continue
        if upper in known or upper.startswith("OUTREACH_TEST_"):
            continue
        close = difflib.get_close_matches(upper, known, n=1, cutoff=0.75)
        hint = f" (did you mean {close[0]}?)" if close else ""
        lines.append(f"{key} is not a setting{hint}; it is ignored")
    return lines


def load_settings(
    config: Path | str | None = None, env: Mapping[str, str] | None = None, **overrides: Any
) -> Settings:
    """Build the settings once: overrides > ``OUTREACH_*`` env > TOML file > defaults.

    ``env`` defaults to ``os.environ``. Raises :class:`SettingsError` with one line naming the
    setting on any bad value.
    """
    environ = os.environ if env is None else env
    config = config or environ.get("OUTREACH_CONFIG")
    values: dict[str, Any] = _read_toml(Path(config)) if config else {}
    known = set(Settings.model_fields)
    for key, value in environ.items():
        upper = key.upper()
        if upper.startswith("OUTREACH_") and upper[len("OUTREACH_") :].lower() in known:
            values[upper[len("OUTREACH_") :].lower()] = value
    values.update(overrides)
    try:
        return Settings(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        shown = "" if "password" in field or isinstance(got, dict) else f" (got {got!r})"
        raise SettingsError(f"setting OUTREACH_{field.upper()}: {msg}{shown}") from None
