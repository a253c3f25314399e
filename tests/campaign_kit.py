"""Small campaigns of a test's own: a campaign file, its templates and a contacts CSV written
to a temporary folder, and the CLI environment that points outreach at them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SENDER = """
[sender]
name = "Coalition"
email = "outreach@example.org"
"""


@dataclass(frozen=True)
class Kit:
    """Where a test's campaign lives: the campaigns folder, the templates folder, the CSV."""

    campaigns: Path
    templates: Path
    contacts: Path

    @property
    def env(self) -> dict[str, str]:
        """``OUTREACH_TEMPLATES_DIR`` and ``OUTREACH_CAMPAIGNS_DIR`` for these folders."""
        return {
            "OUTREACH_TEMPLATES_DIR": str(self.templates),
            "OUTREACH_CAMPAIGNS_DIR": str(self.campaigns),
        }


def write_kit(
    tmp: Path,
    *,
    campaigns: dict[str, str],
    templates: dict[str, str],
    contacts: str = "email,name\nann@example.org,Ann\n",
) -> Kit:
    """Write ``campaigns`` (file name → TOML), ``templates`` (name such as ``t/letter.j2`` →
    source) and the contacts CSV under ``tmp``."""
    kit = Kit(tmp / "campaigns", tmp / "templates", tmp / "contacts.csv")
    kit.campaigns.mkdir(parents=True, exist_ok=True)
    for name, text in campaigns.items():
        (kit.campaigns / name).write_text(text, encoding="utf-8")
    for name, text in templates.items():
        path = kit.templates / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    kit.contacts.write_text(contacts, encoding="utf-8")
    return kit


def smtp_env(host: str, port: int) -> dict[str, str]:
    """The settings that point outreach at a plain (no TLS) SMTP server on ``host:port``."""
    return {
        "OUTREACH_SMTP_HOST": host,
        "OUTREACH_SMTP_PORT": str(port),
        "OUTREACH_SMTP_TLS": "none",
    }


def load_kit(db_url: str, kit: Kit, env: dict[str, str] | None = None) -> None:
    """``outreach campaign load`` and ``outreach contacts import`` of ``kit`` (with ``env``,
    default the kit's), each of which must succeed."""
    from tests.cli import run_cli

    env = env or kit.env
    for args in (
        ("campaign", "load", str(kit.campaigns)),
        ("contacts", "import", str(kit.contacts)),
    ):
        result = run_cli(*args, db_url=db_url, env=env)
        assert result.returncode == 0, result.stderr
