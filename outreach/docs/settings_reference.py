"""``docs/settings.md``: every setting, read from the :class:`~outreach.settings.Settings`
class — its variable, type, default and bounds — with what it means (the field's description,
or the line kept here for fields that have none)."""

from __future__ import annotations

import types
from datetime import timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import SecretStr
from pydantic.fields import FieldInfo

from outreach.settings import Settings

INTRO = """\
# Settings reference

Generated from the `Settings` class by `python -m outreach.docs` (a test keeps it current).
Each setting is an environment variable `OUTREACH_NAME`, or `name = value` in the TOML file
named by `--config` / `OUTREACH_CONFIG` (the environment wins). A bad value stops outreach at
start with one line naming the setting. An `OUTREACH_*` variable that is not a setting is named,
with the closest one when it looks misspelt (`warning: OUTREACH_SMTP_PROT is not a setting (did
you mean OUTREACH_SMTP_PORT?); it is ignored`); an unknown key in the TOML file is refused.
Secrets (marked *secret*) are never printed or logged: keep them in the environment or a file of
mode 0600, not in the TOML file. Durations take seconds or ISO 8601 (`P3D`, `PT12H`).

Without `OUTREACH_IMAP_HOST` and `OUTREACH_IMAP_USERNAME` replies are not fetched, so
follow-ups do not stop on reply unless replies are imported (`outreach replies import`):
`outreach status` and the daemon's start-up log say so.

| variable | type | default | meaning |
|---|---|---|---|
"""

#: What a setting means, for the fields whose declaration has no description.
MEANINGS: dict[str, str] = {
    "database_url": "the database: a SQLite file (`sqlite:///outreach.db`, one process at a "
    "time) or PostgreSQL (`postgresql://user@host/db`, any number of daemons; `postgres://` and "
    "`postgresql+psycopg://` work too: outreach uses psycopg 3)",
    "smtp_host": "the SMTP relay letters are sent through",
    "smtp_port": "its port",
    "smtp_username": "the SMTP AUTH user (AUTH only over TLS unless `smtp_allow_plain_auth`)",
    "smtp_password": "its password",
    "smtp_tls": "`starttls`, `tls` (implicit, port 465) or `none`",
    "smtp_ca_file": "a CA bundle to trust for the relay's certificate (default: the system's)",
    "smtp_verify": "verify the relay's certificate and host name",
    "smtp_allow_plain_auth": "allow AUTH over an unencrypted connection (a local relay only)",
    "smtp_timeout": "seconds to wait for the relay at each step",
    "smtp_concurrency": "SMTP connections a dispatcher keeps open",
    "smtp_rate_per_minute": "at most this many letters a minute, per dispatcher (default: no "
    "limit)",
    "imap_host": "the IMAP server replies arrive at (replies are fetched only when it and the "
    "user are set)",
    "imap_port": "its port",
    "imap_username": "the IMAP user",
    "imap_password": "its password",
    "imap_tls": "`tls` (implicit), `starttls` or `none`",
    "imap_ca_file": "a CA bundle to trust for the IMAP server's certificate",
    "imap_mailbox": "the mailbox (folder) read",
    "templates_dir": "the letter templates' folder",
    "campaigns_dir": "the campaign files' folder",
    "unsubscribe_url": "an https one-click unsubscribe URL put in `List-Unsubscribe` (with "
    "`List-Unsubscribe-Post`)",
    "message_id_domain": "the domain of the Message-IDs of letters (default: the sender's)",
    "lease_seconds": "how long a dispatcher holds a claimed letter before the sweeper may take "
    "it back",
    "dispatch_batch": "letters claimed per round",
    "inbound_max_bytes": "a received message larger than this is stored raw and classified "
    "`oversize`",
    "plan_interval": "the daemon plans every this many seconds",
    "dispatch_interval": "the daemon dispatches every this many seconds",
    "imap_interval": "the daemon fetches replies every this many seconds",
    "shutdown_grace": "on SIGTERM, seconds in-flight SMTP transactions get to finish (keep "
    "systemd's `TimeoutStopSec` and Compose's `stop_grace_period` above it)",
    "reviewer": "an account the command line acts as, like `--reviewer` (it must name an "
    'active account; recorded as "NAME via cli by LOGIN"); unset: the OS login',
    "web_host": "the address `outreach web` listens on (and the daemon's `/healthz` and "
    "`/metrics` with `metrics_port`); `0.0.0.0` in a container",
    "web_port": "the port `outreach web` listens on",
    "public_url": "the console's public base URL: set-password links, Secure cookies when https, "
    "and (when https) each letter's own one-click unsubscribe link",
    "metrics_port": "the daemon serves `/healthz` and `/metrics` on this port (default: not at "
    "all)",
    "log_format": "`json`, `text`, or `auto`: JSON lines when stderr is not a terminal",
    "log_level": "the least severe log level written",
}

_TYPE_WORDS = {
    str: "text",
    int: "integer",
    float: "number",
    bool: "true / false",
    Path: "path",
    timedelta: "duration",
    SecretStr: "text, *secret*",
}


def type_words(annotation: Any) -> str:
    """A field's type in words (``one of a, b``; ``…, optional``)."""
    origin = get_origin(annotation)
    if origin is Literal:
        return "one of " + ", ".join(f"`{v}`" for v in get_args(annotation))
    if origin in (Union, types.UnionType):
        inner = [a for a in get_args(annotation) if a is not type(None)]
        return type_words(inner[0]) + ", optional"
    return _TYPE_WORDS.get(annotation, getattr(annotation, "__name__", str(annotation)))


def default_words(value: Any) -> str:
    """A default as an operator would write it."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, timedelta):
        seconds = int(value.total_seconds())
        return f"`P{seconds // 86400}D`" if seconds % 86400 == 0 else f"`PT{seconds}S`"
    if isinstance(value, Enum):
        value = value.value
    return f"`{value}`"


def bounds(field: FieldInfo) -> str:
    """The field's numeric bounds (``≥ 1``, ``≤ 65535``), if any."""
    words = []
    for item in field.metadata:
        for attribute, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(item, attribute, None) is not None:
                words.append(f"{sign} {getattr(item, attribute)}")
    return ", ".join(words)


def meaning(name: str, field: FieldInfo) -> str:
    """What the setting means: the line kept here, else the field's description."""
    text = MEANINGS.get(name) or field.description or ""
    limits = bounds(field)
    return f"{text} ({limits})" if limits else text


def missing_meanings() -> list[str]:
    """The settings with no meaning to show (a new field needs a description)."""
    return [name for name, f in Settings.model_fields.items() if not meaning(name, f)]


def _cell(text: str) -> str:
    """``text`` safe inside a Markdown table cell."""
    return text.replace("|", "\\|")


def render() -> str:
    """The whole of ``docs/settings.md``."""
    rows = [
        f"| `OUTREACH_{name.upper()}` | {_cell(type_words(field.annotation))} | "
        f"{_cell(default_words(field.default))} | {_cell(meaning(name, field))} |"
        for name, field in Settings.model_fields.items()
    ]
    return INTRO + "\n".join(rows) + "\n"
